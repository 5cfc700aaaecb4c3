"""astrorim from Python: render, simulate, reconstruct, invert and sample
strong gravitational lenses with numpy arrays in and out.

Every function calls the same Rust code as the ``astrorim`` command-line
tool (``astrorim._astrorim``), with the GIL released while it computes, so
threads and Dask workers run in parallel. Conventions are lenstronomy's:
angles in arcsec, x along image columns, y along rows, the origin at the
image centre, position angles counter-clockwise from +x in radians. An image
is a 2-D array of shape (ny, nx) whose row 0 is the bottom row (y smallest),
as astropy reads FITS files. Arrays may be float32 or float64, C- or
Fortran-ordered.

User errors raise ``ValueError`` (a missing file ``FileNotFoundError``) with
the command-line tool's one-line messages, naming the argument or field.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _astrorim

__version__: str = _astrorim.__version__
#: The posterior's likelihood temperature by default (``sample``), calibrated on simulated lenses.
DEFAULT_TEMPERATURE: float = _astrorim.DEFAULT_TEMPERATURE

__all__ = [
    "render",
    "cosmo",
    "simulate",
    "simulate_batches",
    "compare",
    "reconstruct",
    "sample",
    "invert",
    "Result",
    "Inversion",
    "DEFAULT_TEMPERATURE",
]

ArrayLike = Any
PathLike = Union[str, "os.PathLike[str]"]


def _image(value: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (ny, nx), got {array.ndim} dimension(s)")
    return array


def _optional_image(value: Optional[ArrayLike], name: str) -> Optional[np.ndarray]:
    return None if value is None else _image(value, name)


def _plain(value: Any) -> Any:
    """numpy values as JSON-serializable Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(value: Any, name: str) -> str:
    try:
        return json.dumps(value, default=_plain, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot be written as JSON: {e}") from None


def render(scene: Mapping[str, Any], maps: bool = False) -> Dict[str, Any]:
    """Renders a lens scene (noiseless) exactly as ``astrorim render`` does.

    ``scene`` is a dict in the JSON format of ``astrorim render`` (``grid``,
    ``lens``, ``source``, ``lens_light``, ``psf``; lenstronomy's profile
    keywords) or in lenstronomy's own form (``lens_model_list``,
    ``kwargs_lens``, ``source_light_model_list``, ``kwargs_source``,
    ``lens_light_model_list``, ``kwargs_lens_light``, ``kwargs_data`` or
    ``numPix``/``deltaPix``, ``kwargs_psf``, ``kwargs_numerics``).

    Returns a dict: ``image`` (ny × nx, flux per pixel), ``pixel_scale``
    (arcsec) and, with ``maps=True``, ``alpha_x``, ``alpha_y`` (deflections in
    arcsec) and ``kappa`` (convergence) at pixel centres; ``psf``, the
    kernel the renderer used (unit sum, odd side), when the scene has one.
    """
    if not isinstance(scene, Mapping):
        raise ValueError("scene: expected a dict")
    return _astrorim.render(_json(dict(scene), "scene"), maps)


def cosmo(
    z_lens: float,
    z_source: float,
    theta_e: Optional[float] = None,
    h0: float = 70.0,
    omega_m: float = 0.3,
) -> Dict[str, float]:
    """Flat ΛCDM (no radiation) distances of a lens–source pair.

    Returns ``d_lens_mpc``, ``d_source_mpc``, ``d_lens_source_mpc`` (angular
    diameter distances, Mpc), ``sigma_crit_msun_per_arcsec2`` and, given the
    Einstein radius ``theta_e`` (arcsec), ``sigma_v_sis_kms`` (velocity
    dispersion of the singular isothermal sphere, km/s) and
    ``mass_einstein_msun`` (π θ_E² Σ_crit, M☉). ``h0`` in km/s/Mpc.
    """
    return json.loads(_astrorim.cosmo(float(z_lens), float(z_source), None if theta_e is None else float(theta_e), float(h0), float(omega_m)))


def simulate(
    variant: str = "v1",
    n: int = 16,
    seed: int = 0,
    start: int = 0,
    mix_weights: Optional[Sequence[float]] = None,
    preset: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Simulated lenses in memory: samples ``start … start + n − 1`` of the run.

    ``variant`` is ``v1`` … ``v6``, ``mix`` (with optional ``mix_weights`` of
    v1…v6) or ``test-set``; ``preset`` is a user preset TOML file instead.
    Sample k depends only on (seed, k): the arrays equal those ``astrorim
    simulate --variant V --seed S`` writes for the same samples.

    Returns float32 arrays ``image``, ``noise`` (1σ), ``clean`` (noiseless)
    of shape (n, N, N) in ADU per pixel, ``source`` (n, M, M, ADU per
    image-pixel area), ``psf`` (n, K, K, unit sum), and ``truth``: a dict of
    columns (numbers as float64 arrays, text as lists) with the lens in
    lenstronomy's keywords (``theta_E``, ``e1``, …), ``pixel_scale``,
    redshifts, σ_v, the source, PSF and detector values.
    """
    return _astrorim.simulate(
        variant,
        int(n),
        int(seed),
        int(start),
        None if mix_weights is None else [float(w) for w in mix_weights],
        None if preset is None else os.fspath(preset),
    )


def simulate_batches(
    variant: str = "v1",
    batch_size: int = 32,
    seed: int = 0,
    start: int = 0,
    n: Optional[int] = None,
    mix_weights: Optional[Sequence[float]] = None,
    preset: Optional[PathLike] = None,
) -> Iterator[Dict[str, Any]]:
    """Yields consecutive batches of :func:`simulate` (``batch_size`` samples
    each, from sample ``start``), forever or until ``n`` samples: a data
    source for a training loop. No sample repeats."""
    if batch_size < 1:
        raise ValueError("batch_size: must be at least 1")
    k = start
    end = None if n is None else start + n
    while end is None or k < end:
        count = batch_size if end is None else min(batch_size, end - k)
        yield simulate(variant, count, seed, k, mix_weights, preset)
        k += count


def compare(a: ArrayLike, b: ArrayLike, normalize: str = "minmax") -> Dict[str, float]:
    """Scores image ``b`` against the reference ``a`` as ``astrorim compare``:
    ``mse``, ``ssim`` (Gaussian window σ = 1.5, the AstroRIM paper's),
    ``ssim_uniform7`` (scikit-image's default) and ``psnr`` (dB), after each
    image is scaled by ``normalize`` (``minmax``: to [0, 1]; ``max``; ``none``)."""
    return json.loads(_astrorim.compare(_image(a, "a"), _image(b, "b"), normalize))


class _Fields:
    """The fields of a JSON record as attributes, and as items (``x["lambda"]``
    for names that are Python keywords)."""

    fields: Dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(f"{type(self).__name__} has no field '{name}'")

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


class Result(_Fields):
    """A reconstruction: the fields of ``result.json`` (as attributes, e.g.
    ``r.theta_e_arcsec``, ``r.q``, ``r.sigma_v_kms``, or ``r["reduced_chi2"]``;
    all of them in ``r.fields``) and the maps on the fitted cutout (ny × nx,
    flux per pixel; the source on its own grid, ``r.fields["source_grid"]``):
    ``observed``, ``sigma`` (1σ, inf where not fitted), ``model``,
    ``lens_light``, ``lensed_source``, ``residual``, ``normalized_residual``,
    ``kappa``, ``arcs`` (data less lens light) and ``source``. With the
    posterior: ``chain`` (steps × walkers × parameters: θ_E, e1, e2, centre
    x, centre y, γ1, γ2, then the lens light's unless it was held —
    ``parameter_names`` names them), ``log_prob`` (steps × walkers) and
    ``fields["posterior"]``."""

    def __init__(self, raw: Dict[str, Any]):
        self.fields: Dict[str, Any] = json.loads(raw.pop("result_json"))
        self.observed: np.ndarray = raw["observed"]
        self.sigma: np.ndarray = raw["sigma"]
        self.model: np.ndarray = raw["model"]
        self.lens_light: np.ndarray = raw["lens_light"]
        self.lensed_source: np.ndarray = raw["lensed_source"]
        self.residual: np.ndarray = raw["residual"]
        self.normalized_residual: np.ndarray = raw["normalized_residual"]
        self.kappa: np.ndarray = raw["kappa"]
        self.arcs: np.ndarray = raw["arcs"]
        self.source: np.ndarray = raw["source"]
        self.chain: Optional[np.ndarray] = raw.get("chain")
        self.log_prob: Optional[np.ndarray] = raw.get("log_prob")
        self.parameter_names: Optional[List[str]] = raw.get("parameter_names")

    def __repr__(self) -> str:
        f = self.fields
        return f"Result(theta_e_arcsec={f['theta_e_arcsec']:.4f}, q={f['q']:.3f}, reduced_chi2={f['reduced_chi2']:.3f}, converged={f['converged']})"


def _reconstruct(image, noise, psf, pixel_scale, z_lens, z_source, options: Dict[str, Any], uncertainty: bool) -> Result:
    opts = dict(options)
    mask = opts.pop("mask", None)
    out = opts.pop("out", None)
    raw = _astrorim.reconstruct(
        _image(image, "image"),
        noise=_optional_image(noise, "noise"),
        psf=_optional_image(psf, "psf"),
        mask=None if mask is None else _image(np.asarray(mask, dtype=bool).astype(np.float64), "mask"),
        pixel_scale=None if pixel_scale is None else float(pixel_scale),
        z_lens=None if z_lens is None else float(z_lens),
        z_source=None if z_source is None else float(z_source),
        out=None if out is None else os.fspath(out),
        uncertainty=uncertainty,
        **opts,
    )
    return Result(raw)


def reconstruct(
    image: ArrayLike,
    noise: Optional[ArrayLike] = None,
    psf: Optional[ArrayLike] = None,
    pixel_scale: Optional[float] = None,
    z_lens: Optional[float] = None,
    z_source: Optional[float] = None,
    *,
    noise_rms: Optional[float] = None,
    mask: Optional[ArrayLike] = None,
    center: Optional[Tuple[float, float]] = None,
    cutout: Optional[float] = None,
    auto_mask: bool = True,
    regularization: str = "gradient",
    search_source_grid: int = 28,
    source_grid: int = 48,
    max_evaluations: int = 600,
    search_binning: int = 2,
    simplex_tolerance: float = 1e-3,
    lens_model: str = "sie+shear",
    exposure_time: Optional[float] = None,
    gain: Optional[float] = None,
    h0: float = 70.0,
    omega_m: float = 0.3,
    out: Optional[PathLike] = None,
    name: Optional[str] = None,
) -> Result:
    """Reconstructs an observed lens, as ``astrorim reconstruct``: the
    unlensed source, the lens (SIE + external shear, lenstronomy's keywords),
    the lens light (elliptical Sérsic, a second one when the data ask) and,
    with redshifts, σ_v and the Einstein mass.

    ``image``: linear flux per pixel (ny × nx). ``noise``: 1σ per pixel (same
    shape; zero, huge or non-finite values drop the pixel), or ``noise_rms``
    a constant 1σ; with neither, σ is estimated from the image's border
    (plus the source's Poisson term given ``exposure_time`` in seconds for
    an image in counts per second and ``gain`` electrons per count).
    ``psf``: odd square kernel (normalized here). ``pixel_scale`` in arcsec
    (required: arrays carry no header). ``mask``: true where a pixel is
    excluded. ``center``: the lens centre as (column, row), 0-based pixels
    (default: found). ``cutout``: side of the fitted region in arcsec
    (default 5″, at most what the image holds).
    ``auto_mask``: mask neighbouring objects automatically. The search runs
    on the image binned by ``search_binning`` with a
    ``search_source_grid``² source, the final source on ``source_grid``²,
    within ``max_evaluations`` source solves. ``lens_model``: ``"sie+shear"``
    (lenstronomy's ['SIE', 'SHEAR']) or ``"sie"`` (an SIE alone, the model of
    Bolton et al. 2008's SLACS fits). ``out``: also write every
    product of the command-line tool (FITS maps, result.json,
    coolest.json, profiles, panel.png) into this directory.

    The starting guess comes from the arcs themselves, not from a network:
    no model file is needed.
    """
    options = dict(
        noise_rms=noise_rms, mask=mask, center=None if center is None else (float(center[0]), float(center[1])), cutout=None if cutout is None else float(cutout),
        auto_mask=bool(auto_mask), regularization=regularization, search_source_grid=int(search_source_grid),
        source_grid=int(source_grid), max_evaluations=int(max_evaluations), search_binning=int(search_binning),
        simplex_tolerance=float(simplex_tolerance), lens_model=str(lens_model), exposure_time=exposure_time, gain=gain, h0=float(h0),
        omega_m=float(omega_m), out=out, name=name,
    )
    return _reconstruct(image, noise, psf, pixel_scale, z_lens, z_source, options, False)


def sample(
    image: ArrayLike,
    noise: Optional[ArrayLike] = None,
    psf: Optional[ArrayLike] = None,
    pixel_scale: Optional[float] = None,
    z_lens: Optional[float] = None,
    z_source: Optional[float] = None,
    *,
    walkers: Optional[int] = None,
    steps: int = 2000,
    seed: int = 1,
    fix_light: bool = False,
    temperature: float = DEFAULT_TEMPERATURE,
    **options: Any,
) -> Result:
    """:func:`reconstruct`, then the lens posterior as ``astrorim sample``:
    an affine-invariant ensemble (differential-evolution and stretch moves) of
    ``walkers`` walkers (default: twice the parameters, at least 16) for
    ``steps`` steps over θ_E, e1, e2, the centre and the shear and, unless
    ``fix_light``, the lens light's Sérsic parameters and the sky level's
    offset from the subtracted one, the source
    marginalized by the regularized inversion inside the likelihood. The
    chain samples L^(1/``temperature``) × prior: the default,
    :data:`DEFAULT_TEMPERATURE`, is the temperature calibrated on simulated
    lenses (1: the untempered likelihood). ``options`` are those of
    :func:`reconstruct`; with ``out`` the chain is written as it grows
    (``chain.npz``) and an interrupted run resumes from it.

    The result adds ``chain``, ``log_prob`` and ``fields["posterior"]``:
    median, 68 % and 95 % intervals of θ_E, q, φ, γ, φ_ext, the centre and,
    with redshifts, σ_v and M(<θ_E), with the chain's diagnostics
    (autocorrelation times, acceptance, warnings).
    """
    unknown = set(options) - set(reconstruct.__kwdefaults__ or {})
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown option of sample")
    merged = dict(reconstruct.__kwdefaults__ or {})
    merged.update(options)
    merged.update(walkers=None if walkers is None else int(walkers), steps=int(steps), sampler_seed=int(seed), fix_light=bool(fix_light),
                  temperature=float(temperature))
    if merged.get("center") is not None:
        merged["center"] = (float(merged["center"][0]), float(merged["center"][1]))
    return _reconstruct(image, noise, psf, pixel_scale, z_lens, z_source, merged, True)


class Inversion(_Fields):
    """A regularized source inversion: ``source`` (on its grid,
    ``fields["source_grid"]``), ``model`` and ``residual`` (image shape),
    ``evidence_curve`` (rows of λ, ln evidence), and the fields of
    ``inversion.json`` (``lambda``, ``log_evidence``, ``reduced_chi2``,
    ``regularization``, ``seconds``, …) as attributes or items."""

    def __init__(self, raw: Dict[str, Any]):
        self.fields: Dict[str, Any] = json.loads(raw.pop("record_json"))
        self.source: np.ndarray = raw["source"]
        self.model: np.ndarray = raw["model"]
        self.residual: np.ndarray = raw["residual"]
        self.evidence_curve: np.ndarray = raw["evidence_curve"]


def _lens_json(lens: Any) -> str:
    if isinstance(lens, (str, os.PathLike)):
        path = os.fspath(lens)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
        with open(path) as f:
            return f.read()
    if isinstance(lens, Mapping):
        return _json(dict(lens), "lens")
    if isinstance(lens, (list, tuple)):
        return _json({"lens": list(lens)}, "lens")
    raise ValueError("lens: expected a dict with a 'lens' list, a list of profiles, or a path to a JSON file")


def invert(
    image: ArrayLike,
    lens: Union[Mapping[str, Any], List[Mapping[str, Any]], PathLike],
    noise: Optional[ArrayLike] = None,
    psf: Optional[ArrayLike] = None,
    pixel_scale: Optional[float] = None,
    *,
    noise_rms: Optional[float] = None,
    mask: Optional[ArrayLike] = None,
    source_grid: int = 64,
    source_fov: Optional[float] = None,
    source_center: Tuple[float, float] = (0.0, 0.0),
    supersampling: int = 2,
    regularization: str = "gradient",
    lam: Union[float, str] = "auto",
    psf_floor: float = 1e-3,
) -> Inversion:
    """The pixelated source of ``image`` for a given ``lens`` by regularized
    linear inversion, as ``astrorim invert``: λ given, or ``"auto"`` at the
    maximum of the Bayesian evidence (Suyu et al. 2006).

    ``lens``: a dict with a ``lens`` list (a scene, or a ``result.json`` of
    :func:`reconstruct`), a list of profiles, or a path to such a JSON file.
    The image should have its lens light removed or masked. ``source_grid``
    pixels a side over ``source_fov`` arcsec (default half the image's
    field) centred on ``source_center``; ``regularization``: brightness,
    gradient or curvature.
    """
    if isinstance(lam, str):
        if lam != "auto":
            raise ValueError(f"lambda: must be a positive number or 'auto', got '{lam}'")
        lam_value = None
    else:
        lam_value = float(lam)
    raw = _astrorim.invert(
        _image(image, "image"),
        _lens_json(lens),
        noise=_optional_image(noise, "noise"),
        noise_rms=noise_rms,
        psf=_optional_image(psf, "psf"),
        mask=None if mask is None else _image(np.asarray(mask, dtype=bool).astype(np.float64), "mask"),
        pixel_scale=None if pixel_scale is None else float(pixel_scale),
        source_grid=int(source_grid),
        source_fov=None if source_fov is None else float(source_fov),
        source_center=(float(source_center[0]), float(source_center[1])),
        supersampling=int(supersampling),
        regularization=regularization,
        lam=lam_value,
        psf_floor=float(psf_floor),
    )
    return Inversion(raw)
