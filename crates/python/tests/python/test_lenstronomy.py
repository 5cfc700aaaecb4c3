"""A scene in lenstronomy's own form renders as lenstronomy renders it (the
oracle: lenstronomy 1.14.2 in this test's environment)."""

import numpy as np

import astrorim


def lenstronomy_scene():
    import lenstronomy.Util.simulation_util as sim_util

    x = np.arange(-3, 4)
    kernel = np.exp(-(x[None, :] ** 2 / 2.0 + x[:, None] ** 2 / 0.8) / 1.5) * np.maximum(1.0 + 0.3 * x[None, :] + 0.1 * x[:, None], 0.05)
    return {
        "lens_model_list": ["SIE", "SHEAR", "NFW"],
        "kwargs_lens": [
            {"theta_E": 1.2, "e1": 0.11, "e2": -0.07, "center_x": 0.04, "center_y": -0.03},
            {"gamma1": 0.03, "gamma2": -0.02, "ra_0": 0.0, "dec_0": 0.0},
            {"Rs": 3.0, "alpha_Rs": 0.3, "center_x": 0.1, "center_y": 0.05},
        ],
        "source_light_model_list": ["SERSIC_ELLIPSE", "GAUSSIAN"],
        "kwargs_source": [
            {"amp": 18.0, "R_sersic": 0.2, "n_sersic": 1.2, "e1": 0.2, "e2": -0.1, "center_x": 0.06, "center_y": 0.02},
            {"amp": 2.0, "sigma": 0.05, "center_x": -0.12, "center_y": 0.1},
        ],
        "lens_light_model_list": ["SERSIC_ELLIPSE"],
        "kwargs_lens_light": [{"amp": 5.0, "R_sersic": 0.8, "n_sersic": 3.5, "e1": 0.05, "e2": 0.0, "center_x": 0.04, "center_y": -0.03}],
        "kwargs_data": sim_util.data_configure_simple(60, 0.07, exposure_time=100.0, background_rms=0.01),
        "kwargs_psf": {"psf_type": "PIXEL", "kernel_point_source": kernel / kernel.sum()},
        "kwargs_numerics": {"supersampling_factor": 3, "supersampling_convolution": False},
    }


def test_lenstronomy_form_renders_as_lenstronomy():
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    s = lenstronomy_scene()
    model = ImageModel(
        ImageData(**s["kwargs_data"]),
        PSF(**s["kwargs_psf"]),
        lens_model_class=LensModel(s["lens_model_list"]),
        source_model_class=LightModel(s["source_light_model_list"]),
        lens_light_model_class=LightModel(s["lens_light_model_list"]),
        kwargs_numerics=s["kwargs_numerics"],
    )
    want = model.image(s["kwargs_lens"], s["kwargs_source"], s["kwargs_lens_light"])
    ours = astrorim.render(s)["image"]
    assert ours.shape == want.shape == (60, 60)
    rel = np.linalg.norm(ours - want) / np.linalg.norm(want)
    assert rel < 1e-4, rel
    # The same scene in this project's form gives the same image.
    ours_form = {
        "grid": {"nx": 60, "ny": 60, "pixel_scale": 0.07, "supersampling": 3},
        "lens": [dict(k, type=t) for t, k in zip(s["lens_model_list"], s["kwargs_lens"])],
        "source": [dict(k, type=t) for t, k in zip(s["source_light_model_list"], s["kwargs_source"])],
        "lens_light": [dict(k, type=t) for t, k in zip(s["lens_light_model_list"], s["kwargs_lens_light"])],
        "psf": {"type": "PIXEL", "kernel": s["kwargs_psf"]["kernel_point_source"]},
    }
    assert np.array_equal(astrorim.render(ours_form)["image"], ours)


def test_lenstronomy_form_refuses_a_flipped_grid():
    import pytest

    s = lenstronomy_scene()
    s["kwargs_data"]["transform_pix2angle"] = np.array([[-0.07, 0.0], [0.0, 0.07]])
    with pytest.raises(ValueError, match="kwargs_data.transform_pix2angle"):
        astrorim.render(s)
