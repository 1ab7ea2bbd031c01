#!/usr/bin/env bash
# Fast mode against full mode on one clip (BENCHMARKS.md "Fast mode"): the wall time of
# each render, the mean style loss against the painting (`stylevid stability --style`),
# the warping error by stylevid's flow and by OpenCV's DIS (scripts/warp_error_reference.py,
# which needs OpenCV: PYTHON names an interpreter that has it).
#
# Usage: scripts/fast_mode_bench.sh INPUT STYLE FRAMES OUTDIR [MODES]
#   FRAMES: A-B (0-based, inclusive); MODES: "full fast" (default), any of them, and
#   extra stylevid options after the mode with a colon: "fast:--keyframe-gap:24".
# Prints one line per mode: mode, seconds, style loss, warping error (ours, DIS).
set -euo pipefail
input=$1 style=$2 frames=$3 out=$4 modes=${5:-full fast}
bin=${STYLEVID:-.build/release/stylevid}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for spec in $modes; do
    mode=${spec%%:*}
    extra=()
    [[ $spec == *:* ]] && IFS=: read -r -a extra <<< "${spec#*:}"
    name=$(echo "$spec" | tr -c 'a-zA-Z0-9\n-' '_')
    video="$out/$name.mp4"
    rm -f "$video"
    start=$(date +%s.%N)
    "$bin" "$input" "$style" "$video" --frames "$frames" --mode "$mode" --quiet "${extra[@]}"
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    ours=$("$bin" stability "$video" "$input" --frames "$frames" --style "$style")
    dis=$("$python" "$here/warp_error_reference.py" "$video" "$input" --frames "$frames" --flow dis)
    "$python" - "$spec" "$seconds" "$ours" "$dis" <<'EOF'
import json, sys
spec, seconds, ours, dis = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(f"{spec}: {seconds:.0f} s, style loss {ours['style_loss']:.1f}, warping error {ours['warping_error']:.6f} (DIS judge {dis['warping_error']:.6f})")
EOF
done
