"""Makes a test set of lenses with lenstronomy (not astrorim's simulator), for
the generalization benchmark of `astrorim reconstruct`.

Each lens: SIE + external shear, an elliptical Sérsic lens light on the mass
centre, a source of two elliptical Sérsics and a Gaussian clump, pixel scale
0.04–0.10″ over a ~6″ field, a Gaussian PSF (FWHM 1.5–3 pixels), sky noise
plus Poisson noise of the source and lens (exposure 1000–3000 s, image in
counts/s), 4× supersampled rendering. Writes OUT/NAME/{image,noise,psf}.fits,
OUT/list.csv (for `astrorim reconstruct --list`) and OUT/truth.csv.

usage: lenstronomy_lenses.py OUT [COUNT=10] [SEED=7]
"""
import csv
import os
import sys

import numpy as np
from astropy.io import fits
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

out = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
os.makedirs(out, exist_ok=True)
rows, truth = [], []
for k in range(count):
    s = rng.uniform(0.04, 0.10)
    n = int(round(6.0 / s)) // 2 * 2
    fwhm = rng.uniform(1.5, 3.0) * s
    data = ImageData(image_data=np.zeros((n, n)), transform_pix2angle=np.diag([s, s]), ra_at_xy_0=-(n - 1) / 2 * s, dec_at_xy_0=-(n - 1) / 2 * s)
    psf = PSF(psf_type="GAUSSIAN", fwhm=fwhm, pixel_size=s, truncation=5)
    q, phi = rng.uniform(0.55, 0.95), rng.uniform(0, np.pi)
    e = (1 - q) / (1 + q)
    theta_e = rng.uniform(0.7, 1.8)
    cx, cy = rng.uniform(-0.1, 0.1, 2)
    g1, g2 = rng.uniform(-0.05, 0.05, 2)
    kwargs_lens = [{"theta_E": theta_e, "e1": e * np.cos(2 * phi), "e2": e * np.sin(2 * phi), "center_x": cx, "center_y": cy},
                   {"gamma1": g1, "gamma2": g2}]
    r, t = rng.uniform(0.05, 0.4) * theta_e, rng.uniform(0, 2 * np.pi)
    sx, sy = r * np.cos(t), r * np.sin(t)
    kwargs_source = [
        {"amp": rng.uniform(20, 60), "R_sersic": rng.uniform(0.1, 0.3), "n_sersic": rng.uniform(0.8, 2.5), "e1": rng.uniform(-0.2, 0.2), "e2": rng.uniform(-0.2, 0.2), "center_x": sx, "center_y": sy},
        {"amp": rng.uniform(10, 40), "R_sersic": rng.uniform(0.05, 0.15), "n_sersic": 1.0, "e1": rng.uniform(-0.3, 0.3), "e2": rng.uniform(-0.3, 0.3), "center_x": sx + rng.uniform(-0.15, 0.15), "center_y": sy + rng.uniform(-0.15, 0.15)},
        {"amp": rng.uniform(0.5, 2.0), "sigma": rng.uniform(0.03, 0.06), "center_x": sx + rng.uniform(-0.2, 0.2), "center_y": sy + rng.uniform(-0.2, 0.2)},
    ]
    ql, phil = np.clip(q + rng.uniform(-0.1, 0.1), 0.5, 0.98), phi + rng.uniform(-0.2, 0.2)
    el = (1 - ql) / (1 + ql)
    kwargs_ll = [{"amp": rng.uniform(20, 80), "R_sersic": rng.uniform(0.6, 1.5), "n_sersic": rng.uniform(3.0, 5.0), "e1": el * np.cos(2 * phil), "e2": el * np.sin(2 * phil), "center_x": cx, "center_y": cy}]
    model = ImageModel(data, psf, lens_model_class=LensModel(["SIE", "SHEAR"]),
                       source_model_class=LightModel(["SERSIC_ELLIPSE", "SERSIC_ELLIPSE", "GAUSSIAN"]),
                       lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       kwargs_numerics={"supersampling_factor": 4})
    clean = model.image(kwargs_lens, kwargs_source, kwargs_lens_light=kwargs_ll)
    exposure, sky_rms = rng.uniform(1000, 3000), rng.uniform(0.005, 0.02)
    poisson = rng.poisson(np.clip(clean, 0, None) * exposure) / exposure - np.clip(clean, 0, None)
    image = clean + poisson + rng.normal(0, sky_rms, clean.shape)
    noise = np.sqrt(sky_rms**2 + np.clip(clean, 0, None) / exposure)
    name = f"lens{k:03d}"
    os.makedirs(f"{out}/{name}", exist_ok=True)
    header = fits.Header({"CDELT1": -s / 3600, "CDELT2": s / 3600, "EXPTIME": exposure, "BUNIT": "COUNTS/S"})
    fits.writeto(f"{out}/{name}/image.fits", image.astype(np.float64), header, overwrite=True)
    fits.writeto(f"{out}/{name}/noise.fits", noise.astype(np.float64), header, overwrite=True)
    fits.writeto(f"{out}/{name}/psf.fits", psf.kernel_point_source.astype(np.float64), overwrite=True)
    rows.append([name, f"{name}/image.fits", f"{name}/noise.fits", f"{name}/psf.fits"])
    truth.append({"name": name, "pixel_scale": s, "theta_e": theta_e, "q": q, "phi": phi, "center_x": cx, "center_y": cy, "gamma1": g1, "gamma2": g2, "n_pixels": n})
with open(f"{out}/list.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["name", "image", "noise", "psf"])
    w.writerows(rows)
with open(f"{out}/truth.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(truth[0].keys()))
    w.writeheader()
    w.writerows(truth)
