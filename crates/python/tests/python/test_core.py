"""render, cosmo, compare and simulate against the command-line tool on the same inputs."""

import json

import numpy as np
import pytest

import astrorim
from conftest import SCENE, cli, read_fits


def test_render_equals_the_cli_bit_for_bit(tmp_path):
    (tmp_path / "scene.json").write_text(json.dumps(SCENE))
    cli("render", tmp_path / "scene.json", "-o", tmp_path / "image.fits", "--maps")
    ours = astrorim.render(SCENE, maps=True)
    from astropy.io import fits

    with fits.open(tmp_path / "image.fits") as hdul:
        assert np.array_equal(ours["image"], hdul[0].data)
        for name in ("ALPHA_X", "ALPHA_Y", "KAPPA"):
            assert np.array_equal(ours[name.lower()], hdul[name].data), name
    assert ours["image"].shape == (64, 64) and ours["pixel_scale"] == 0.06


def test_cosmo_equals_the_cli():
    out = json.loads(cli("cosmo", "--z-lens", 0.35, "--z-source", 1.7, "--theta-e", 1.3, "--h0", 68, "--omega-m", 0.31, "--json").stdout)
    ours = astrorim.cosmo(0.35, 1.7, theta_e=1.3, h0=68, omega_m=0.31)
    assert ours.keys() == out.keys()
    for key, value in out.items():
        assert abs(ours[key] / value - 1) < 1e-12, key


def test_compare_equals_the_cli(tmp_path, lens_files):
    image, _ = lens_files
    clean = astrorim.render(SCENE)["image"]
    from astropy.io import fits

    fits.writeto(tmp_path / "clean.fits", clean)
    for how in ("minmax", "max", "none"):
        out = json.loads(cli("compare", tmp_path / "clean.fits", image, "--normalize", how, "--json").stdout)
        ours = astrorim.compare(clean, read_fits(image), normalize=how)
        for key, value in out.items():
            assert abs(ours[key] - value) <= 1e-12 * max(1.0, abs(value)), (how, key)
    # float32 and Fortran-ordered input give the same scores.
    a32 = np.asfortranarray(clean.astype(np.float32))
    assert astrorim.compare(a32, a32.astype(np.float64))["ssim"] == 1.0


def test_simulate_equals_the_cli_dataset(tmp_path):
    cli("simulate", "--variant", "v3", "-n", 5, "--seed", 11, "--shard-size", 5, "--out", tmp_path / "data")
    with np.load(tmp_path / "data" / "shard-00000.npz") as shard:
        ours = astrorim.simulate("v3", n=5, seed=11)
        for key in ("image", "noise", "clean", "source", "psf"):
            assert ours[key].dtype == np.float32
            assert np.array_equal(ours[key], shard[key]), key
        assert np.array_equal(ours["truth"]["pixel_scale"], shard["pixel_scale"])
    assert ours["truth"]["variant"] == ["v3"] * 5


def test_simulate_batches_continue_the_same_stream():
    whole = astrorim.simulate("mix", n=7, seed=2)
    batches = list(astrorim.simulate_batches("mix", batch_size=3, seed=2, n=7))
    assert [b["image"].shape[0] for b in batches] == [3, 3, 1]
    assert np.array_equal(np.concatenate([b["image"] for b in batches]), whole["image"])
    assert list(np.concatenate([b["truth"]["index"] for b in batches])) == list(range(7))


def test_user_errors_raise_with_the_field_named(tmp_path):
    bad_grid = dict(SCENE, grid={"nx": 64, "ny": 64, "pixel_scale": -1.0})
    with pytest.raises(ValueError, match="pixel_scale"):
        astrorim.render(bad_grid)
    with pytest.raises(ValueError, match=r"lens\[0\]"):
        astrorim.render(dict(SCENE, lens=[{"type": "NOPE"}]))
    with pytest.raises(ValueError, match="z_source"):
        astrorim.cosmo(1.0, 0.5)
    with pytest.raises(ValueError, match="theta_e"):
        astrorim.cosmo(0.5, 1.0, theta_e=-1)
    with pytest.raises(ValueError, match="normalize"):
        astrorim.compare(np.ones((16, 16)), np.ones((16, 16)), normalize="bogus")
    with pytest.raises(ValueError, match="^b: shape"):
        astrorim.compare(np.ones((16, 16)), np.ones((16, 17)))
    with pytest.raises(ValueError, match="variant|v9"):
        astrorim.simulate("v9", n=1)
    with pytest.raises(FileNotFoundError):
        astrorim.simulate(preset=tmp_path / "missing.toml", n=1)
    image = astrorim.render(SCENE)["image"]
    with pytest.raises(ValueError, match="^noise: noise map is"):
        astrorim.reconstruct(image, noise=np.ones((10, 10)), pixel_scale=0.06)
    with pytest.raises(ValueError, match="^pixel_scale"):
        astrorim.reconstruct(image, noise_rms=0.02)
    with pytest.raises(ValueError, match="^psf: PSF must be square with an odd side"):
        astrorim.reconstruct(image, noise_rms=0.02, psf=np.ones((4, 4)), pixel_scale=0.06)
    with pytest.raises(ValueError, match="^image: expected a 2-D array"):
        astrorim.reconstruct(np.ones((3, 64, 64)), noise_rms=0.02, pixel_scale=0.06)
    with pytest.raises(ValueError, match="z_lens and z_source"):
        astrorim.reconstruct(image, noise_rms=0.02, pixel_scale=0.06, z_lens=0.5)
    with pytest.raises(ValueError, match="^walkers"):
        astrorim.sample(image, noise_rms=0.02, pixel_scale=0.06, walkers=5)
    with pytest.raises(ValueError, match="^lambda"):
        astrorim.invert(image, {"lens": SCENE["lens"]}, noise_rms=0.02, pixel_scale=0.06, lam=-1.0)
    with pytest.raises(ValueError, match="unknown"):
        astrorim.invert(image, [{"type": "WHAT"}], noise_rms=0.02, pixel_scale=0.06)
    with pytest.raises(FileNotFoundError):
        astrorim.invert(image, tmp_path / "missing.json", noise_rms=0.02, pixel_scale=0.06)
