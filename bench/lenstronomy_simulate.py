"""Times lenstronomy rendering v1-like training images on one core.

Scene per image (parameters drawn as in astrorim's v1 preset): 96×96 pixels at
0.04″, 4× supersampling with the PSF convolved at super resolution
(supersampling_convolution=True), SIE + SHEAR, an elliptical Sérsic source,
an elliptical Sérsic lens light, a Gaussian PSF (FWHM 0.06–0.10″), Poisson
and read noise. Prints one JSON line: {"ms_per_image": ..., "images_per_s": ...}.
"""
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from lenstronomy.Data.imaging_data import ImageData  # noqa: E402
from lenstronomy.Data.psf import PSF  # noqa: E402
from lenstronomy.ImSim.image_model import ImageModel  # noqa: E402
from lenstronomy.LensModel.lens_model import LensModel  # noqa: E402
from lenstronomy.LightModel.light_model import LightModel  # noqa: E402


def one_image(rng):
    n, s, ss = 96, 0.04, 4
    data = ImageData(image_data=np.zeros((n, n)), transform_pix2angle=np.diag([s, s]), ra_at_xy_0=-(n - 1) / 2 * s, dec_at_xy_0=-(n - 1) / 2 * s)
    psf = PSF(psf_type="GAUSSIAN", fwhm=rng.uniform(0.06, 0.10), pixel_size=s, truncation=4, point_source_supersampling_factor=ss)
    lens = LensModel(["SIE", "SHEAR"])
    q, phi = 1 - rng.uniform(0, 0.3), rng.uniform(0, np.pi)
    e = (1 - q) / (1 + q)
    theta_e = rng.uniform(0.9, 1.5)
    kwargs_lens = [
        {"theta_E": theta_e, "e1": e * np.cos(2 * phi), "e2": e * np.sin(2 * phi), "center_x": 0.0, "center_y": 0.0},
        {"gamma1": rng.uniform(-0.03, 0.03), "gamma2": rng.uniform(-0.03, 0.03)},
    ]
    r = rng.uniform(0, 0.3) * theta_e
    t = rng.uniform(0, 2 * np.pi)
    kwargs_source = [{"amp": 20.0, "R_sersic": rng.uniform(0.05, 0.3), "n_sersic": rng.uniform(1.5, 4.5), "e1": 0.1, "e2": -0.05, "center_x": r * np.cos(t), "center_y": r * np.sin(t)}]
    kwargs_ll = [{"amp": 5.0, "R_sersic": theta_e, "n_sersic": 4.0, "e1": kwargs_lens[0]["e1"], "e2": kwargs_lens[0]["e2"], "center_x": 0.0, "center_y": 0.0}]
    model = ImageModel(data, psf, lens_model_class=lens, source_model_class=LightModel(["SERSIC_ELLIPSE"]), lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       kwargs_numerics={"supersampling_factor": ss, "supersampling_convolution": True})
    image = model.image(kwargs_lens, kwargs_source, kwargs_ll)
    exposure, gain, sky = 1200.0, 2.0, 100.0
    counts = rng.poisson(np.clip(image * exposure + sky, 0, None) * gain) / gain + rng.normal(0, 1.0, image.shape)
    return counts


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rng = np.random.default_rng(1)
    one_image(rng)
    start = time.perf_counter()
    for _ in range(count):
        one_image(rng)
    per = (time.perf_counter() - start) / count
    print(json.dumps({"ms_per_image": per * 1e3, "images_per_s": 1 / per, "count": count}))


if __name__ == "__main__":
    main()
