"""Reconstructions mapped over a Dask cluster of 2 worker processes equal the serial loop."""

import numpy as np

import astrorim
from conftest import FAST, NOISE_RMS, SCENE


def lenses():
    out = []
    for k, (sx, sy) in enumerate([(0.05, 0.03), (-0.08, 0.06)]):
        scene = dict(SCENE, source=[dict(SCENE["source"][0], center_x=sx, center_y=sy)])
        clean = astrorim.render(scene)["image"]
        out.append(clean + np.random.default_rng(k).normal(0.0, NOISE_RMS, clean.shape))
    return out


def test_dask_map_equals_the_serial_loop():
    from dask.distributed import Client, LocalCluster

    images = lenses()
    options = dict(pixel_scale=0.06, noise_rms=NOISE_RMS, **FAST)
    serial = [astrorim.reconstruct(image, **options) for image in images]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        futures = client.map(astrorim.reconstruct, images, **options)
        parallel = client.gather(futures)
    for s, p in zip(serial, parallel):
        for key in ("theta_e_arcsec", "q", "phi_rad", "gamma_ext", "reduced_chi2"):
            assert abs(s[key] - p[key]) <= 1e-9 * max(1.0, abs(s[key])), key
        assert np.abs(s.source - p.source).max() <= 1e-9 * np.abs(s.source).max()
