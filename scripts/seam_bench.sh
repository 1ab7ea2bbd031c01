#!/bin/bash
# Seams between cluster tasks, measured: renders INPUT as a plan cut into tasks of CHUNK
# frames (and, for the reference, as one task), then prints the warping error of every
# pair of consecutive frames around each seam, against the same pairs of the one-task
# render, and the style loss of the frames there. Twice: on the encoded outputs, and on
# the lossless frames (FFV1 videos made from the job folders), which leave out what the
# encoder adds (a segment starts with a key frame, whose noise differs from the frames
# before it as at any key frame), and on the chunked render joined by `join --reencode`
# (one encode of the lossless frames, as the one-task render's output is).
#
#   scripts/seam_bench.sh INPUT CHUNK [extra plan options...]
#   e.g. scripts/seam_bench.sh shot.mp4 36 --seam-pass-frames 16
#
# Renders at --size 192 with Elephants.jpg (override with SIZE=, STYLE=); work goes to
# $OUT (default /tmp/seam-bench). Each render of ~100 frames takes ~10 minutes on 2 cores.
# MEASURE_ONLY=1 measures the renders already in $OUT again.
set -euo pipefail
IN=$(realpath "$1"); CHUNK=$2; shift 2
HOME_DIR=${STYLEVID_HOME:-$HOME/.cache/stylevid}
STYLE=${STYLE:-$HOME_DIR/data/mate/abstract/Elephants.jpg}
SIZE=${SIZE:-192}
OUT=${OUT:-/tmp/seam-bench}
B=${STYLEVID:-$(dirname "$0")/../.build/release/stylevid}
mkdir -p "$OUT"
render() { # name chunk [options]
  local name=$1 chunk=$2; shift 2
  rm -rf "$OUT/job-$name" "$OUT/$name.mp4"
  "$B" plan "$IN" "$STYLE" "$OUT/$name.mp4" --job "$OUT/job-$name" --size "$SIZE" --chunk-frames "$chunk" --quiet "$@"
  /usr/bin/time -f "$name: %e s" "$B" render "$OUT/job-$name" --all --quiet
  "$B" join "$OUT/job-$name" --quiet
  measure "$name"
}
measure() { # name: the warping errors of the output and of its lossless frames
  local name=$1
  "$B" stability "$OUT/$name.mp4" "$IN" --style "$STYLE" > "$OUT/$name.json"
  # the same frames, lossless: each task's own, or its seam pass's where it has one
  rm -rf "$OUT/frames-$name" && mkdir -p "$OUT/frames-$name"
  python3 - "$OUT/job-$name" "$OUT/frames-$name" <<'PY'
import json, os, shutil, sys
job, dest = sys.argv[1], sys.argv[2]
plan = json.load(open(f"{job}/plan.json"))
for k, t in enumerate(plan["tasks"]):
    seam = f"{job}/seams/{k}"
    passed = sorted(f for f in os.listdir(seam) if f.startswith("frame-")) if os.path.isdir(seam) else []
    p = min(plan["seam_pass_frames"], t["last"] - t["first"]) if passed else 0
    tail = len(passed) - p
    for j in range(t["last"] - t["first"] + 1):
        src = f"{seam}/frame-{tail + j:06d}.png" if j < p else f"{job}/tasks/{k}/frame-{j:06d}.png"
        shutil.copy(src, f"{dest}/frame-{t['first'] + j:06d}.png")
PY
  ffmpeg -v error -y -framerate 25 -i "$OUT/frames-$name/frame-%06d.png" -c:v ffv1 "$OUT/$name-lossless.mkv"
  "$B" stability "$OUT/$name-lossless.mkv" "$IN" --style "$STYLE" > "$OUT/$name-lossless.json"
}
reencoded() { # the chunked render joined again by one encode of its frames
  "$B" join "$OUT/job-chunked" --reencode --quiet
  cp "$OUT/chunked.mp4" "$OUT/chunked-reencoded.mp4" && cp "$OUT/single.json" "$OUT/single-reencoded.json"
  "$B" stability "$OUT/chunked-reencoded.mp4" "$IN" --style "$STYLE" > "$OUT/chunked-reencoded.json"
  "$B" join "$OUT/job-chunked" --quiet   # chunked.mp4 as the copying join writes it
}
if [ "${MEASURE_ONLY:-0}" = 1 ]; then measure single; measure chunked   # the renders in $OUT again
else
  render single 100000
  render chunked "$CHUNK" "$@"
fi
reencoded
for kind in "" "-reencoded" "-lossless"; do
echo "== ${kind:-encoded outputs (segments copied)}"
python3 - "$OUT" "$kind" <<'PY'
import json, statistics, sys
out, kind = sys.argv[1], sys.argv[2]
single = json.load(open(f"{out}/single{kind}.json")); chunked = json.load(open(f"{out}/chunked{kind}.json"))
plan = json.load(open(f"{out}/job-chunked/plan.json"))
ps, pc = single["warping_error_per_pair"], chunked["warping_error_per_pair"]
ss, sc = single["style_loss_per_frame"], chunked["style_loss_per_frame"]
seams = [t["first"] for t in plan["tasks"][1:] if t["first"] not in plan["shot_starts"]]
inside = [e for i, e in enumerate(pc) if i + 1 not in seams]
print(f"chunked: tasks {[(t['first'], t['last']) for t in plan['tasks']]}, median pair inside the tasks {statistics.median(inside):.6f}")
for k, s in ((k, t["first"]) for k, t in enumerate(plan["tasks"]) if t["first"] in seams):
    lo, hi = max(0, s - 6), min(len(pc), s + plan["seam_pass_frames"] + 2)
    # the median pair inside the two tasks that meet at the seam
    near = statistics.median(pc[i] for i in range(plan["tasks"][k - 1]["first"], plan["tasks"][k]["last"]) if i != s - 1)
    print(f"seam {s-1}|{s}: pair {pc[s-1]:.6f} = {pc[s-1]/near:.2f}x the median pair inside the two tasks, "
          f"{pc[s-1]/statistics.median(inside):.2f}x the median inside all, {pc[s-1]/ps[s-1]:.2f}x the one-task render's same pair")
    print("  pair        " + " ".join(f"{i:6d}" for i in range(lo, hi)))
    print("  one task    " + " ".join(f"{ps[i]*1e3:6.2f}" for i in range(lo, hi)) + "   (x1e-3)")
    print("  chunked     " + " ".join(f"{pc[i]*1e3:6.2f}" for i in range(lo, hi)))
    fr = range(max(0, s - 3), min(len(sc), s + 3))
    print("  style loss, frames " + ", ".join(f"{i}: {sc[i]:.2f} ({ss[i]:.2f})" for i in fr) + "   (one task in brackets)")
PY
done
