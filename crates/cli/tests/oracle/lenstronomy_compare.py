"""Oracle for astrorim's physics: renders scenes with lenstronomy and compares
them with astrorim's FITS output; computes astropy distances.

Usage:
  lenstronomy_compare.py render SCENE.json RENDERED.fits [SCENE.json RENDERED.fits ...]
      prints {"<scene>": {"image_rel_l2": ..., "alpha_max_abs": ..., "kappa_rel_max": ...}}
  lenstronomy_compare.py cosmo H0 OM ZL ZS THETA_E
      prints astropy's distances, Σ_crit, σ_v(SIS) and M(<θ_E) with astrorim's JSON keys
"""
import json
import sys

import numpy as np


def lenstronomy_image(scene):
    from lenstronomy.Data.pixel_grid import PixelGrid
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    g = scene["grid"]
    nx, ny, s = g["nx"], g["ny"], g["pixel_scale"]
    grid = PixelGrid(
        nx=nx,
        ny=ny,
        transform_pix2angle=np.array([[s, 0.0], [0.0, s]]),
        ra_at_xy_0=-(nx - 1) / 2 * s,
        dec_at_xy_0=-(ny - 1) / 2 * s,
    )
    psf_spec = scene.get("psf", {"type": "NONE"})
    if psf_spec["type"] == "PIXEL":
        psf = PSF(psf_type="PIXEL", kernel_point_source=np.array(psf_spec["kernel"], dtype=float))
    else:
        psf = PSF(psf_type="NONE")

    def split(profiles):
        return [p["type"] for p in profiles], [{k: v for k, v in p.items() if k != "type"} for p in profiles]

    lens_types, kwargs_lens = split(scene.get("lens", []))
    src_types, kwargs_src = split(scene.get("source", []))
    ll_types, kwargs_ll = split(scene.get("lens_light", []))
    lens_model = LensModel(lens_types)
    model = ImageModel(
        grid,
        psf,
        lens_model_class=lens_model,
        source_model_class=LightModel(src_types),
        lens_light_model_class=LightModel(ll_types),
        kwargs_numerics={"supersampling_factor": g.get("supersampling", 1), "supersampling_convolution": False},
    )
    image = model.image(kwargs_lens, kwargs_src, kwargs_ll)
    x = (np.arange(nx) - (nx - 1) / 2) * s
    y = (np.arange(ny) - (ny - 1) / 2) * s
    xx, yy = np.meshgrid(x, y)
    ax, ay = lens_model.alpha(xx.ravel(), yy.ravel(), kwargs_lens)
    kappa = lens_model.kappa(xx.ravel(), yy.ravel(), kwargs_lens)
    return image, ax.reshape(ny, nx), ay.reshape(ny, nx), kappa.reshape(ny, nx)


def compare_render(pairs):
    from astropy.io import fits

    out = {}
    for scene_path, fits_path in pairs:
        with open(scene_path) as f:
            scene = json.load(f)
        image, ax, ay, kappa = lenstronomy_image(scene)
        with fits.open(fits_path) as hdul:
            ours = hdul[0].data.astype(float)
            our_ax, our_ay, our_kappa = (hdul[n].data.astype(float) for n in ("ALPHA_X", "ALPHA_Y", "KAPPA"))
        assert ours.shape == image.shape, (ours.shape, image.shape)
        out[scene_path] = {
            "image_rel_l2": float(np.linalg.norm(ours - image) / np.linalg.norm(image)),
            "alpha_max_abs": float(max(np.abs(our_ax - ax).max(), np.abs(our_ay - ay).max())),
            # The singular centre pixel (κ ~ 1e10, set by each code's core) is left out.
            "kappa_rel_max": float(np.max((np.abs(our_kappa - kappa) / np.maximum(np.abs(kappa), 1e-3))[np.abs(kappa) < 1e3])),
        }
    return out


def cosmo(h0, om, zl, zs, theta_e):
    from astropy import constants as const
    from astropy import units as u
    from astropy.cosmology import FlatLambdaCDM

    c = FlatLambdaCDM(H0=h0, Om0=om, Tcmb0=0)
    dd = c.angular_diameter_distance(zl)
    ds = c.angular_diameter_distance(zs)
    dds = c.angular_diameter_distance(zl, zs)
    sigma_crit = (const.c**2 / (4 * np.pi * const.G) * ds / (dd * dds)).to(u.Msun / u.Mpc**2)
    arcsec_mpc = (dd * (1 * u.arcsec).to(u.rad).value).to(u.Mpc)
    sigma_crit_arcsec = (sigma_crit * arcsec_mpc**2).to(u.Msun).value
    theta_rad = (theta_e * u.arcsec).to(u.rad).value
    return {
        "d_lens_mpc": dd.to(u.Mpc).value,
        "d_source_mpc": ds.to(u.Mpc).value,
        "d_lens_source_mpc": dds.to(u.Mpc).value,
        "sigma_crit_msun_per_arcsec2": sigma_crit_arcsec,
        "sigma_v_sis_kms": (const.c * np.sqrt(theta_rad * ds / (4 * np.pi * dds))).to(u.km / u.s).value,
        "mass_einstein_msun": np.pi * theta_e**2 * sigma_crit_arcsec,
    }


if __name__ == "__main__":
    if sys.argv[1] == "render":
        args = sys.argv[2:]
        print(json.dumps(compare_render(list(zip(args[::2], args[1::2])))))
    elif sys.argv[1] == "cosmo":
        print(json.dumps(cosmo(*map(float, sys.argv[2:7]))))
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
