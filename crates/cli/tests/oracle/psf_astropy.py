"""Analytic PSF kernels from astropy.modeling, discretized like astrorim's
(mean of factor × factor sub-pixel samples, then normalized to unit sum).
Usage: psf_astropy.py CASES.json; prints the kernels as JSON lists."""
import json
import math
import sys

import numpy as np
from astropy.convolution import discretize_model
from astropy.modeling.models import AiryDisk2D, Gaussian2D, Moffat2D

cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    s, n, f = c["pixel_scale"], c["size"], c["subsampling"]
    fwhm = c["fwhm"] / s  # pixels
    if c["type"] == "GAUSSIAN":
        sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
        e = math.hypot(c["e1"], c["e2"])
        q = (1 - e) / (1 + e)
        phi = 0.5 * math.atan2(c["e2"], c["e1"])
        model = Gaussian2D(1.0, 0.0, 0.0, x_stddev=sigma / math.sqrt(q), y_stddev=sigma * math.sqrt(q), theta=phi)
    elif c["type"] == "MOFFAT":
        beta = c["beta"]
        model = Moffat2D(1.0, 0.0, 0.0, gamma=fwhm / (2 * math.sqrt(2 ** (1 / beta) - 1)), alpha=beta)
    else:
        # AiryDisk2D's radius is the first dark ring, 1.2196699 λ/D; its FWHM is 1.0289940 λ/D.
        model = AiryDisk2D(1.0, 0.0, 0.0, radius=fwhm * 1.2196698912665045 / 1.028993969962188)
    half = (n - 1) // 2
    k = discretize_model(model, (-half, half + 1), (-half, half + 1), mode="oversample", factor=f)
    out.append((k / k.sum()).tolist())
print(json.dumps(out))
