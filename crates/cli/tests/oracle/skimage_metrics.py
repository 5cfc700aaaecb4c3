"""scikit-image's metrics on two FITS images, after the same normalization
astrorim applies. Usage: skimage_metrics.py REF.fits IMG.fits minmax|max|none"""
import json
import sys

import numpy as np
from astropy.io import fits
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity


def norm(a, how):
    if how == "minmax":
        return (a - a.min()) / (a.max() - a.min())
    if how == "max":
        return a / a.max()
    return a


ref = fits.getdata(sys.argv[1]).astype(np.float64)
img = fits.getdata(sys.argv[2]).astype(np.float64)
x, y = norm(ref, sys.argv[3]), norm(img, sys.argv[3])
rng = 1.0 if sys.argv[3] != "none" else float(x.max() - x.min())
print(json.dumps({
    "mse": float(mean_squared_error(x, y)),
    "ssim": float(structural_similarity(x, y, data_range=rng, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)),
    "ssim_uniform7": float(structural_similarity(x, y, data_range=rng)),
    "psnr": float(peak_signal_noise_ratio(x, y, data_range=rng)),
}))
