#!/usr/bin/env bash
# Side-by-side benchmark: stylevid's VGG forward + input-gradient against PyTorch's
# (../shared/bench/torch_vgg.py) in the same run, interleaved so machine noise hits both.
# PyTorch comes from PyPI into a throwaway venv (.venv-bench, git-ignored; a large
# download the first time). Usage: scripts/bench.sh [MODEL] [WxH] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-vgg19}"; size="${2:-512x288}"; rounds="${3:-3}"
ref="${TORCH_BENCH:-../shared/bench/torch_vgg.py}"
py="${TORCH_PYTHON:-.venv-bench/bin/python}"
if [ ! -x "$py" ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q torch
fi
swift build -c release --product stylevid >/dev/null
ours=(); theirs=()
for r in $(seq "$rounds"); do
  o=$(.build/release/stylevid bench --model "$model" --size "$size" --reps 3 2>/dev/null | tail -1)
  t=$("$py" "$ref" --model "$model" --size "$size" --reps 3 | tail -1)
  echo "round $r: stylevid $o"
  echo "round $r: pytorch  $t"
  ours+=("$(echo "$o" | sed 's/.*"ms_per_iteration":\([0-9.]*\).*/\1/')")
  theirs+=("$(echo "$t" | sed 's/.*"ms_per_iteration": *\([0-9.]*\).*/\1/')")
done
python3 - "$model" "$size" "${ours[*]}" "${theirs[*]}" <<'PY'
import sys, statistics, json
model, size, o, t = sys.argv[1], sys.argv[2], list(map(float, sys.argv[3].split())), list(map(float, sys.argv[4].split()))
mo, mt = statistics.median(o), statistics.median(t)
print(json.dumps({"model": model, "size": size, "stylevid_ms": mo, "pytorch_ms": mt, "ratio": round(mo / mt, 3)}))
PY
