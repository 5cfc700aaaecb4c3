"""Shared fixtures of the astrorim Python package's tests: the command-line
tool to compare against (ASTRORIM_BIN, set by tests/pytest.rs) and a small
simulated lens written by it."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[4]

# A small lens: 64² pixels of 0.06″, SIE + shear, Sérsic source and lens light, Gaussian PSF.
SCENE = {
    "grid": {"nx": 64, "ny": 64, "pixel_scale": 0.06, "supersampling": 2},
    "lens": [
        {"type": "SIE", "theta_E": 1.1, "e1": 0.08, "e2": -0.04, "center_x": 0.03, "center_y": -0.02},
        {"type": "SHEAR", "gamma1": 0.02, "gamma2": 0.01},
    ],
    "source": [
        {"type": "SERSIC_ELLIPSE", "amp": 20.0, "R_sersic": 0.15, "n_sersic": 1.5, "e1": 0.1, "e2": 0.05, "center_x": 0.05, "center_y": 0.03}
    ],
    "lens_light": [
        {"type": "SERSIC_ELLIPSE", "amp": 4.0, "R_sersic": 0.7, "n_sersic": 3.0, "e1": 0.05, "e2": -0.02, "center_x": 0.03, "center_y": -0.02}
    ],
    "psf": {"type": "GAUSSIAN", "fwhm": 0.12},
}
NOISE_RMS = 0.02
# A refinement budget that keeps each reconstruction to ~30 s on 2 cores.
FAST = {"max_evaluations": 150, "search_source_grid": 24, "source_grid": 32}


def cli(*args: str) -> subprocess.CompletedProcess:
    """Runs the astrorim command-line tool; fails the test on a non-zero exit."""
    out = subprocess.run([os.environ["ASTRORIM_BIN"], *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out


def read_fits(path) -> np.ndarray:
    from astropy.io import fits

    return fits.getdata(path).astype(np.float64)


@pytest.fixture(scope="session")
def lens_files(tmp_path_factory):
    """The small lens rendered by `astrorim render` with noise (seed 3): image and PSF FITS paths."""
    d = tmp_path_factory.mktemp("lens")
    (d / "scene.json").write_text(json.dumps(SCENE))
    cli("render", d / "scene.json", "-o", d / "image.fits", "--noise-rms", NOISE_RMS, "--seed", 3, "--psf-out", d / "psf.fits")
    return d / "image.fits", d / "psf.fits"
