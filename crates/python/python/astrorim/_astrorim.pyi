"""Type stubs of the compiled module; the documented interface is astrorim/__init__.py."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str
DEFAULT_TEMPERATURE: float

def render(scene_json: str, maps: bool = False) -> Dict[str, Any]: ...
def cosmo(z_lens: float, z_source: float, theta_e: Optional[float] = None, h0: float = 70.0, omega_m: float = 0.3) -> str: ...
def compare(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], normalize: str = "minmax") -> str: ...
def simulate(
    variant: str = "v1",
    n: int = 16,
    seed: int = 0,
    start: int = 0,
    mix_weights: Optional[List[float]] = None,
    preset: Optional[str] = None,
) -> Dict[str, Any]: ...
def reconstruct(
    image: npt.NDArray[np.float64],
    *,
    noise: Optional[npt.NDArray[np.float64]] = None,
    noise_rms: Optional[float] = None,
    psf: Optional[npt.NDArray[np.float64]] = None,
    mask: Optional[npt.NDArray[np.float64]] = None,
    pixel_scale: Optional[float] = None,
    z_lens: Optional[float] = None,
    z_source: Optional[float] = None,
    h0: float = 70.0,
    omega_m: float = 0.3,
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
    out: Optional[str] = None,
    name: Optional[str] = None,
    uncertainty: bool = False,
    walkers: Optional[int] = None,
    steps: int = 2000,
    sampler_seed: int = 1,
    fix_light: bool = False,
    temperature: float = ...,
) -> Dict[str, Any]: ...
def invert(
    image: npt.NDArray[np.float64],
    lens_json: str,
    *,
    noise: Optional[npt.NDArray[np.float64]] = None,
    noise_rms: Optional[float] = None,
    psf: Optional[npt.NDArray[np.float64]] = None,
    mask: Optional[npt.NDArray[np.float64]] = None,
    pixel_scale: Optional[float] = None,
    source_grid: int = 64,
    source_fov: Optional[float] = None,
    source_center: Tuple[float, float] = (0.0, 0.0),
    supersampling: int = 2,
    regularization: str = "gradient",
    lam: Optional[float] = None,
    psf_floor: float = 1e-3,
) -> Dict[str, Any]: ...
