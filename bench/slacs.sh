#!/usr/bin/env bash
# astrorim reconstruct on the SLACS development lenses (HST, with noise maps,
# PSFs, redshifts and published SIE Einstein radii): one batch run, then the
# recovered θ_E and q against the published values.
#
#   bench/slacs.sh SLACS_DIR OUT_DIR [extra reconstruct flags…]
#
# The published models are SIEs without external shear, so the benchmark
# fits `--lens-model sie` unless the flags say otherwise (e.g.
# `--lens-model sie+shear`, the reconstruct default).
#
# ASTRORIM_BIN names another astrorim binary (default target/release/astrorim),
# e.g. a copy, so that a rebuild during the run does not change it.
#
# SLACS_DIR holds lenses.csv (name, z_lens, z_source, pixel_scale_arcsec,
# theta_e_sie_arcsec, q_sie, …) and NAME/{image,noise,psf}.fits.
set -euo pipefail
slacs=$(cd "$1" && pwd); out=$2; shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
python3 - "$slacs" "$out/batch.csv" <<'PY'
import csv, sys
slacs, table = sys.argv[1], sys.argv[2]
with open(f"{slacs}/lenses.csv") as f, open(table, "w", newline="") as g:
    w = csv.writer(g)
    w.writerow(["name", "image", "noise", "psf", "pixel_scale", "z_lens", "z_source"])
    for r in csv.DictReader(f):
        n = r["name"]
        w.writerow([n, f"{slacs}/{n}/image.fits", f"{slacs}/{n}/noise.fits", f"{slacs}/{n}/psf.fits",
                    r["pixel_scale_arcsec"], r["z_lens"], r["z_source"]])
PY
# Bolton et al. fitted an SIE alone: the same model is fitted here unless
# the flags name another (an external shear trades against q; see docs/results.md).
model=(--lens-model sie)
for flag in "$@"; do [[ $flag == --lens-model* ]] && model=(); done
"${ASTRORIM_BIN:-$here/target/release/astrorim}" reconstruct --list "$out/batch.csv" --out "$out" "${model[@]}" "$@"
python3 - "$slacs/lenses.csv" "$out/summary.csv" "$out/comparison.csv" <<'PY'
import csv, statistics, sys
published = {r["name"]: r for r in csv.DictReader(open(sys.argv[1]))}
rows, errors = [], []
for r in csv.DictReader(open(sys.argv[2])):
    if r["status"] != "ok":
        errors.append((r["name"], r["message"])); continue
    p = published[r["name"]]
    te, tp = float(r["theta_e_arcsec"]), float(p["theta_e_sie_arcsec"])
    rows.append({"name": r["name"], "theta_e": te, "theta_e_published": tp, "relative_error": te / tp - 1,
                 "q": float(r["q"]), "q_published": float(p["q_sie"]), "reduced_chi2": float(r["reduced_chi2"]),
                 "seconds": float(r["seconds"])})
with open(sys.argv[3], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["name"])
    w.writeheader(); w.writerows(rows)
for r in rows:
    print(f"{r['name']}: θ_E {r['theta_e']:.3f} (published {r['theta_e_published']:.2f}, {100*r['relative_error']:+.1f} %), "
          f"q {r['q']:.2f} ({r['q_published']:.2f}), reduced χ² {r['reduced_chi2']:.2f}, {r['seconds']:.0f} s")
if rows:
    err = sorted(abs(r["relative_error"]) for r in rows)
    dq = [abs(r["q"] - r["q_published"]) for r in rows]
    print(f"{len(rows)} lenses: |Δθ_E|/θ_E mean {100*statistics.mean(err):.1f} %, median {100*statistics.median(err):.1f} %, "
          f"within 5 %: {sum(e < 0.05 for e in err)}, within 10 %: {sum(e < 0.10 for e in err)}; "
          f"|Δq| mean {statistics.mean(dq):.3f}, median {statistics.median(dq):.3f}; "
          f"time per lens median {statistics.median(r['seconds'] for r in rows):.0f} s, mean {statistics.mean(r['seconds'] for r in rows):.0f} s")
for n, m in errors:
    print(f"{n}: FAILED: {m}")
PY
