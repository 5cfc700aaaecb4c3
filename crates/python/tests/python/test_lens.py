"""reconstruct, sample and invert against the command-line tool on the same data."""

import json

import numpy as np
import pytest

import astrorim
from conftest import FAST, NOISE_RMS, SCENE, cli, read_fits


@pytest.fixture(scope="session")
def python_result(lens_files):
    image, psf = lens_files
    return astrorim.reconstruct(read_fits(image), psf=read_fits(psf), pixel_scale=0.06, noise_rms=NOISE_RMS, z_lens=0.4, z_source=1.8, **FAST)


def test_reconstruct_equals_the_cli(tmp_path, lens_files, python_result):
    image, psf = lens_files
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in FAST.items()]
    cli("reconstruct", image, "--psf", psf, "--noise-rms", NOISE_RMS, "--z-lens", 0.4, "--z-source", 1.8, *flags, "--out", tmp_path)
    want = json.loads((tmp_path / "result.json").read_text())
    r = python_result
    for key in ("theta_e_arcsec", "q", "phi_rad", "center_x", "center_y", "gamma_ext", "phi_ext_rad", "sigma_v_kms", "mass_einstein_msun", "reduced_chi2"):
        assert abs(r[key] - want[key]) <= 1e-9 * max(1.0, abs(want[key])), key
    assert r.converged == want["converged"]
    for name in ("source", "model", "residual", "normalized_residual", "kappa", "lens_light"):
        ours = getattr(r, name)
        theirs = read_fits(tmp_path / f"{name}.fits")
        assert ours.shape == theirs.shape, name
        # Equal to rounding: the lens agrees to ~1e-14, which κ's singular centre amplifies to ~1e-9.
        assert np.allclose(ours, theirs, rtol=1e-7, atol=1e-12), name
    # The fit is right, not only the same: θ_E within 3 % of the truth.
    assert abs(r.theta_e_arcsec / SCENE["lens"][0]["theta_E"] - 1) < 0.03


def test_sample_writes_and_returns_the_chain(tmp_path, lens_files):
    image, psf = lens_files
    r = astrorim.sample(
        read_fits(image), psf=read_fits(psf), pixel_scale=0.06, noise_rms=NOISE_RMS, steps=3, seed=4, temperature=1.5, out=tmp_path,
        **FAST
    )
    # The lens's 7 parameters, the lens light's (one Sérsic: 7; two: 12) and the sky offset, twice as many walkers.
    steps, walkers, ndim = r.chain.shape
    assert steps == 3 and ndim in (15, 20) and walkers == 2 * ndim and r.log_prob.shape == (3, walkers)
    assert r.parameter_names[:2] == ["theta_E", "e1"] and r.parameter_names[7:10] == ["light_center_x", "light_center_y", "light_amp"]
    assert r.parameter_names[-1] == "sky_offset" and "sky_offset" in r.fields["posterior"]["intervals"]
    assert np.all(np.isfinite(r.log_prob))
    post = r.fields["posterior"]
    assert post["diagnostics"]["steps"] == 3 and "theta_e_arcsec" in post["intervals"]
    assert post["temperature"] == 1.5
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["posterior"]["intervals"]["theta_e_arcsec"] == post["intervals"]["theta_e_arcsec"]
    with np.load(tmp_path / "chain.npz") as chain:
        assert np.array_equal(chain["chain"], r.chain)
        assert [n.decode() for n in chain["parameter_names"]] == r.parameter_names
        assert chain["temperature"].tolist() == [1.5]
    assert (tmp_path / "corner.png").stat().st_size > 0 and (tmp_path / "panel.png").stat().st_size > 0


def test_sample_refuses_a_temperature_that_is_not_positive(lens_files):
    image, psf = lens_files
    with pytest.raises(ValueError, match="temperature"):
        astrorim.sample(read_fits(image), psf=read_fits(psf), pixel_scale=0.06, noise_rms=NOISE_RMS, temperature=0.0, **FAST)


def test_invert_equals_the_cli(tmp_path):
    # The arcs alone (no lens light) with the true lens.
    scene = dict(SCENE, lens_light=[])
    (tmp_path / "scene.json").write_text(json.dumps(scene))
    cli("render", tmp_path / "scene.json", "-o", tmp_path / "arcs.fits", "--noise-rms", NOISE_RMS, "--seed", 9, "--psf-out", tmp_path / "psf.fits")
    cli("invert", tmp_path / "arcs.fits", "--lens", tmp_path / "scene.json", "--psf", tmp_path / "psf.fits", "--noise-rms", NOISE_RMS,
        "--source-grid", 32, "--out", tmp_path / "inv")
    want = json.loads((tmp_path / "inv" / "inversion.json").read_text())
    ours = astrorim.invert(read_fits(tmp_path / "arcs.fits"), scene, psf=read_fits(tmp_path / "psf.fits"), pixel_scale=0.06,
                           noise_rms=NOISE_RMS, source_grid=32)
    for key in ("lambda", "log_evidence", "reduced_chi2"):
        assert abs(ours[key] - want[key]) <= 1e-9 * max(1.0, abs(want[key])), key
    assert np.abs(ours.source - read_fits(tmp_path / "inv" / "source.fits")).max() < 1e-9
    assert 0.8 < ours.reduced_chi2 < 1.2
    assert ours.evidence_curve.shape[1] == 2 and ours.evidence_curve.shape[0] > 3
