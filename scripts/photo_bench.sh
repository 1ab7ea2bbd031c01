#!/usr/bin/env bash
# Photo relighting comparison (BENCHMARKS.md "Photoreal"): for each content × reference
# pair, `stylevid photo` (defaults), plain style transfer (`stylevid image`, same size and
# budget) and Reinhard's Lab transfer (`stylevid photo --method reinhard`), each measured
# with `stylevid photo-metrics` (structure kept, Lab distance to the reference) and timed.
# Usage: scripts/photo_bench.sh [OUTDIR]   (images are kept there to look at)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.build/photo-bench}"; mkdir -p "$out"
data="${STYLEVID_HOME:-$HOME/.cache/stylevid}/data"
swift build -c release --product stylevid >/dev/null
bin=.build/release/stylevid
for content in coffee chelsea; do
  for ref in Dune Storm; do
    c="$data/$content.png"; r="$data/mate/nature/$ref.jpg"
    for method in photo plain reinhard; do
      o="$out/${content}_${ref}_$method.png"
      start=$(date +%s.%N)
      case $method in
        photo) $bin photo "$c" "$r" "$o" --quiet ;;
        plain) $bin image "$c" "$r" "$o" --size 384 --iterations 100 --quiet ;;
        reinhard) $bin photo "$c" "$r" "$o" --method reinhard ;;
      esac
      secs=$(python3 -c "import time,sys; print(round(time.time()-float(sys.argv[1]),1))" "$start")
      echo "{\"content\":\"$content\",\"reference\":\"$ref\",\"method\":\"$method\",\"seconds\":$secs,\"metrics\":$($bin photo-metrics "$o" "$c" "$r")}"
    done
  done
done
