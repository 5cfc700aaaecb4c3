#!/usr/bin/env bash
# RIM inference latency and training throughput, astrorim (burn flex) vs the
# same architecture in PyTorch (bench/rim_pytorch.py), side by side on this
# machine's cores. Usage: bench/compare_rim.sh [REPEATS]
# Creates its own virtual environment (target/bench-torch) with PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
venv=target/bench-torch
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch numpy
fi
cargo build --release --quiet
echo "== astrorim (burn 0.22.1, flex)"
ours=$(./target/release/astrorim bench rim -r "$repeats")
echo "$ours"
echo "== PyTorch, same architecture"
theirs=$("$venv/bin/python" bench/rim_pytorch.py "$repeats")
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, re, sys
ours, theirs = sys.argv[1], json.loads(sys.argv[2])
def ms(batch):
    return float(re.search(rf"inference KnownLens batch {batch}: ([0-9.]+) ms per batch", ours).group(1))
train = float(re.search(r"training known-lens: ([0-9.]+) samples/s", ours).group(1))
for b in (1, 16):
    print(f"inference batch {b}: astrorim {ms(b):.1f} ms, PyTorch {theirs[f'inference_ms_batch{b}']:.1f} ms, ratio (PyTorch/astrorim) {theirs[f'inference_ms_batch{b}'] / ms(b):.2f}")
print(f"training batch 8: astrorim {train:.2f} samples/s, PyTorch {theirs['training_samples_per_s_batch8']:.2f} samples/s, ratio (astrorim/PyTorch) {train / theirs['training_samples_per_s_batch8']:.2f}")
PY
