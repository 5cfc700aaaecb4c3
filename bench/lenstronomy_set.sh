#!/usr/bin/env bash
# Generalization benchmark: lenses made by lenstronomy (bench/lenstronomy_lenses.py,
# its own virtual environment), reconstructed by `astrorim reconstruct --list`,
# θ_E and q compared with the truth.
#
#   bench/lenstronomy_set.sh OUT_DIR [COUNT=10] [SEED=7]
#
# ASTRORIM_BIN names another astrorim binary (default target/release/astrorim).
set -euo pipefail
out=$1; count=${2:-10}; seed=${3:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${ASTRORIM_BENCH_VENV:-$here/target/bench-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet lenstronomy==1.14.2 astropy==8.0.2
fi
"$venv/bin/python" "$here/bench/lenstronomy_lenses.py" "$out" "$count" "$seed"
"${ASTRORIM_BIN:-$here/target/release/astrorim}" reconstruct --list "$out/list.csv" --out "$out/results"
python3 - "$out/truth.csv" "$out/results/summary.csv" <<'PY'
import csv, statistics, sys
truth = {r["name"]: r for r in csv.DictReader(open(sys.argv[1]))}
rows = []
for r in csv.DictReader(open(sys.argv[2])):
    t = truth[r["name"]]
    if r["status"] != "ok":
        print(f"{r['name']}: {r['status']}: {r['message']}"); continue
    te, tt = float(r["theta_e_arcsec"]), float(t["theta_e"])
    rows.append((r["name"], float(t["pixel_scale"]), tt, te, te / tt - 1, float(t["q"]), float(r["q"]), float(r["seconds"])))
    print(f"{r['name']}: pixel {float(t['pixel_scale']):.3f}″, θ_E {te:.3f} (truth {tt:.3f}, {100*(te/tt-1):+.1f} %), q {float(r['q']):.2f} (truth {float(t['q']):.2f}), {float(r['seconds']):.0f} s")
if rows:
    print(f"{len(rows)} lenses: θ_E mean |error| {100*statistics.mean(abs(r[4]) for r in rows):.1f} %, median {100*statistics.median(abs(r[4]) for r in rows):.1f} %; "
          f"q mean |error| {statistics.mean(abs(r[6]-r[5]) for r in rows):.3f}; median {statistics.median(r[7] for r in rows):.0f} s per lens")
PY
