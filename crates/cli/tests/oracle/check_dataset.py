"""Reloads an astrorim dataset with numpy alone and checks its consistency.

Usage: check_dataset.py DIR  →  prints {"samples": N, "variants": [...], "theta_e_max_abs_diff": ...}
"""
import csv
import glob
import json
import os
import sys

import numpy as np

root = sys.argv[1]
manifest = json.load(open(os.path.join(root, "manifest.json")))
n, m, k = manifest["image_size"], manifest["source_size"], manifest["psf_size"]
rows = list(csv.DictReader(open(os.path.join(root, "truth.csv"))))
indices, thetas, variants = [], [], []
for path in sorted(glob.glob(os.path.join(root, "shard-*.npz"))):
    with np.load(path) as z:
        s = z["image"].shape[0]
        assert z["image"].shape == (s, n, n) and z["image"].dtype == np.float32
        assert z["noise"].shape == (s, n, n) and z["clean"].shape == (s, n, n)
        assert z["source"].shape == (s, m, m) and z["psf"].shape == (s, k, k)
        assert z["lenstronomy"].shape == (s, 9) and z["astrorim"].shape == (s, 9)
        for name in ("image", "noise", "clean", "source", "psf"):
            assert np.isfinite(z[name]).all(), name
        assert (z["noise"] > 0).all()
        assert np.allclose(z["psf"].sum(axis=(1, 2)), 1.0, atol=1e-4)
        indices += z["index"].tolist()
        thetas += z["lenstronomy"][:, 0].tolist()
        variants += [v.decode() for v in z["variant"]]
assert indices == [int(r["index"]) for r in rows], "truth table and shards disagree on sample order"
assert variants == [r["variant"] for r in rows]
diff = max(abs(t - float(r["theta_E"])) for t, r in zip(thetas, rows))
print(json.dumps({"samples": len(indices), "variants": sorted(set(variants)), "theta_e_max_abs_diff": diff}))
