#!/usr/bin/env bash
# Side-by-side benchmark: stylevid's VGG forward + input-gradient against PyTorch's
# (scripts/torch_vgg_bench.py) in the same run, interleaved so machine noise hits both.
# PyTorch comes from PyPI into a throwaway venv (.venv-bench, git-ignored; a large
# download the first time; TORCH_PYTHON=path/to/python reuses one).
#
#   scripts/bench.sh [MODEL] [WxH] [ROUNDS]   one model and size, ratio to PyTorch
#   scripts/bench.sh suite                    every BENCHMARKS.md figure, one JSON line each:
#       VGG16/VGG19 at 512x288 and 1280x720 (with PyTorch and the ratio), optical flow at
#       512x288, matting Laplacian at 700x466, seconds per frame on 2 s of bikes.mp4 at
#       the video defaults, and peak RSS stylizing a 1280x720 frame at full size
set -euo pipefail
cd "$(dirname "$0")/.."
ref="${TORCH_BENCH:-scripts/torch_vgg_bench.py}"
py="${TORCH_PYTHON:-.venv-bench/bin/python}"
if [ ! -x "$py" ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q torch
  py=.venv-bench/bin/python
fi
swift build -c release --product stylevid >/dev/null
bin=.build/release/stylevid

# one model and size: ROUNDS interleaved rounds of 3 reps each, medians and the ratio
compare() {
  local model=$1 size=$2 rounds=$3 ours=() theirs=() o t
  for r in $(seq "$rounds"); do
    o=$($bin bench --model "$model" --size "$size" --reps 3 2>/dev/null | tail -1)
    t=$("$py" "$ref" --model "$model" --size "$size" --reps 3 | tail -1)
    echo "round $r: stylevid $o" >&2
    echo "round $r: pytorch  $t" >&2
    ours+=("$(echo "$o" | sed 's/.*"ms_per_iteration":\([0-9.]*\).*/\1/')")
    theirs+=("$(echo "$t" | sed 's/.*"ms_per_iteration": *\([0-9.]*\).*/\1/')")
  done
  python3 - "$model" "$size" "${ours[*]}" "${theirs[*]}" <<'PY'
import sys, statistics, json
model, size, o, t = sys.argv[1], sys.argv[2], list(map(float, sys.argv[3].split())), list(map(float, sys.argv[4].split()))
mo, mt = statistics.median(o), statistics.median(t)
print(json.dumps({"kernel": "vgg", "model": model, "size": size, "stylevid_ms": mo, "pytorch_ms": mt, "ratio": round(mo / mt, 3)}))
PY
}

if [ "${1:-}" != suite ]; then
  compare "${1:-vgg19}" "${2:-512x288}" "${3:-3}"
  exit 0
fi

data="${STYLEVID_HOME:-$HOME/.cache/stylevid}/data"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for size in 512x288 1280x720; do
  for model in vgg16 vgg19; do compare "$model" "$size" 3; done
done
$bin bench --kernel flow --size 512x288 2>/dev/null | tail -1
$bin bench --kernel laplacian --size 700x466 2>/dev/null | tail -1
# end to end: 2 s of bikes.mp4 (50 frames) at the video defaults (384 px)
/usr/bin/time -f "%e %M" -o "$tmp/time" $bin "$data/bikes.mp4" "$data/mate/abstract/Elephants.jpg" "$tmp/out.mp4" --duration 2 --quiet
frames=$($bin probe "$tmp/out.mp4" | sed -n 's/.* \([0-9]*\) frames.*/\1/p' | head -1)
read -r secs rss < "$tmp/time"
python3 -c "import json,sys; s,f,r=float(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3]); print(json.dumps({'kernel':'video','clip':'bikes.mp4 2 s','size':384,'frames':f,'seconds':s,'s_per_frame':round(s/f,2),'peak_rss_mb':r//1024}))" "$secs" "$frames" "$rss"
# memory: one 1280x720 frame of Big Buck Bunny stylized at full size (3 evaluations)
ffmpeg -v error -ss 1 -i "$data/bigbuckbunny.mp4" -frames:v 1 "$tmp/frame.png"
/usr/bin/time -f "%e %M" -o "$tmp/time" $bin "$tmp/frame.png" "$data/mate/abstract/Elephants.jpg" "$tmp/out.png" --size 1280 --iterations 3 --pyramid 1 --quiet
read -r secs rss < "$tmp/time"
python3 -c "import json,sys; print(json.dumps({'kernel':'memory','size':'1280x720','iterations':3,'seconds':float(sys.argv[1]),'peak_rss_mb':int(sys.argv[2])//1024}))" "$secs" "$rss"
