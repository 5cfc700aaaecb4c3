"""The Bayesian evidence of a regularized linear inversion, computed
independently of astrorim's sparse Suyu et al. (2006) expression: as the
Gaussian marginal likelihood ln N(d; 0, C_D + F (λR)⁻¹ Fᵀ) with scipy, its
maximum over λ found by scipy's bounded scalar minimizer. The
regularization matrix R = DᵀD is built here from its definition (forward
differences along x and y on the m × m source grid, zero beyond the edge).

Usage: evidence_scipy.py SYSTEM.npz LAMBDA_OURS
SYSTEM.npz holds F (unmasked pixels × source pixels), d and sigma (per
unmasked pixel) and m (the source grid's side)."""
import json
import sys

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import multivariate_normal

z = np.load(sys.argv[1])
F, d, sigma, m = z["F"], z["d"], z["sigma"], int(z["m"][0])
lambda_ours = float(sys.argv[2])

D = []
for i in range(m):
    for j in range(m):
        k = i * m + j
        dx = np.zeros(m * m)
        dx[k] = -1.0
        if j + 1 < m:
            dx[k + 1] = 1.0
        dy = np.zeros(m * m)
        dy[k] = -1.0
        if i + 1 < m:
            dy[k + m] = 1.0
        D += [dx, dy]
D = np.array(D)
R = D.T @ D
R_inv = np.linalg.inv(R)
C_d = np.diag(sigma ** 2)


def log_evidence(lam):
    cov = C_d + F @ (R_inv / lam) @ F.T
    return float(multivariate_normal(mean=np.zeros(len(d)), cov=cov).logpdf(d))


centre = np.log10(lambda_ours)
best = minimize_scalar(lambda t: -log_evidence(10.0 ** t), bounds=(centre - 3.0, centre + 3.0), method="bounded",
                       options={"xatol": 1e-5})
print(json.dumps({
    "lambda": float(10.0 ** best.x),
    "log_evidence": float(-best.fun),
    "log_evidence_at_ours": log_evidence(lambda_ours),
}))
