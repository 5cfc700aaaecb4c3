#!/usr/bin/env bash
# Simulator throughput, astrorim vs lenstronomy, side by side on one core.
# Usage: bench/compare_simulate.sh [COUNT]
# Creates its own virtual environment (target/bench-venv) with lenstronomy.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-30}
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check lenstronomy==1.14.2
fi
cargo build --release --quiet
echo "== lenstronomy 1.14.2 (one core): v1-like scene, PSF at super resolution"
lt=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 "$venv/bin/python" bench/lenstronomy_simulate.py "$count")
echo "$lt"
echo "== astrorim (one core)"
ours=$(RAYON_NUM_THREADS=1 taskset -c 0 ./target/release/astrorim bench simulate -n "$count" --variants v1,v2,v3,v4,v5,v6,mix)
echo "$ours"
lt_ms=$(echo "$lt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ms_per_image"])')
v1_ms=$(echo "$ours" | awk '/simulate v1:/ {print $3}')
python3 -c "print(f'v1 speed-up over lenstronomy per core: {float($lt_ms)/float($v1_ms):.1f}x')"
