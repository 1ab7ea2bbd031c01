#!/usr/bin/env bash
# The default strength on a calibration set (BENCHMARKS.md "One strength for every
# style"): every photo × style pair stylized with the image defaults at --size 256 (or
# $SIZE), then measured with `stylevid style-metrics`: content_distance (‖F − F̂‖/‖F̂‖ at
# relu4_2; the bar is ≤ 0.6) and ratio (the result's Gram distance to the style over the
# photo's own; the bar is ≤ 0.35). Prints one line per pair and a summary, and writes
# the 4 × 4 picture grid (first four photos × first four styles) to OUTDIR/grid.jpg.
# Usage: scripts/strength_grid.sh [OUTDIR] [stylevid options...]   (results kept there)
#   BIN=path/to/stylevid   another build of stylevid (default .build/release/stylevid)
#   STYLES="a b"           a subset of the style names below (PHOTOS="a b": of the photos)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.build/strength-grid}"; shift || true; mkdir -p "$out"
data="${STYLEVID_HOME:-$HOME/.cache/stylevid}/data"
bin="${BIN:-.build/release/stylevid}"
[ -n "${BIN:-}" ] || swift build -c release --product stylevid >/dev/null
size="${SIZE:-256}"

# Photos: portrait, animal, object, street (a frame of the bikes clip), object.
[ -s "$out/street.png" ] || ffmpeg -v error -y -ss 2 -i "$data/bikes.mp4" -frames:v 1 "$out/street.png"
declare -A photo=([astronaut]="$data/astronaut.png" [chelsea]="$data/chelsea.png" [coffee]="$data/coffee.png"
  [street]="$out/street.png" [motorcycle]="$data/motorcycle_left.png")
photos=(${PHOTOS:-astronaut chelsea coffee street})
# Styles: a painting; tiled and repeated patterns; flat graphic art; photographs.
declare -A style=([Elephants]="$data/mate/abstract/Elephants.jpg" [truchet]="$data/gnome/truchet-l.png"
  [licorice]="$data/gnome/licorice-l.png" [pixels]="$data/gnome/pixels-l.png" [grid]="$data/gnome/grid-l.png"
  [symbolic]="$data/gnome/symbolic-l.png" [Storm]="$data/mate/nature/Storm.jpg" [Dune]="$data/mate/nature/Dune.jpg"
  [Wood]="$data/mate/nature/Wood.jpg")
styles=(${STYLES:-Elephants truchet licorice pixels grid symbolic Storm Dune})

pass=0; fail=0
printf '%-11s %-10s %8s %7s %6s\n' photo style content ratio secs
for p in "${photos[@]}"; do
  for s in "${styles[@]}"; do
    o="$out/${p}_$s.png"
    start=$(date +%s.%N)
    "$bin" image "${photo[$p]}" "${style[$s]}" "$o" --size "$size" --quiet "$@"
    secs=$(python3 -c "import time,sys; print(round(time.time()-float(sys.argv[1])))" "$start")
    m=$("$bin" style-metrics "$o" "${photo[$p]}" "${style[$s]}")
    read -r c r < <(python3 -c 'import json,sys; m=json.loads(sys.argv[1]); print(m["content_distance"], m["ratio"])' "$m")
    ok=$(python3 -c "print(int($c <= 0.6 and $r <= 0.35))")
    [ "$ok" = 1 ] && pass=$((pass + 1)) || fail=$((fail + 1))
    printf '%-11s %-10s %8.3f %7.3f %6s%s\n' "$p" "$s" "$c" "$r" "$secs" "$([ "$ok" = 1 ] || echo '  ← over a bar')"
  done
done
echo "strength grid: $pass passed, $fail over a bar (content ≤ 0.6, ratio ≤ 0.35) at --size $size $*"

# The picture: rows = the first four photos, columns = the photo, then the first four styles.
if [ ${#styles[@]} -ge 4 ]; then
  inputs=(); cells=()
  for p in "${photos[@]:0:4}"; do
    for f in "${photo[$p]}" $(for s in "${styles[@]:0:4}"; do echo "$out/${p}_$s.png"; done); do inputs+=(-i "$f"); done
  done
  n=$(( ${#inputs[@]} / 2 ))
  for i in $(seq 0 $((n - 1))); do cells+=("[$i:v]scale=192:192:force_original_aspect_ratio=decrease,pad=192:192:(ow-iw)/2:(oh-ih)/2:white[c$i]"); done
  layout=$(python3 -c "print('|'.join(f'{(i%5)*192}_{(i//5)*192}' for i in range($n)))")
  ffmpeg -v error -y "${inputs[@]}" -filter_complex "$(IFS=';'; echo "${cells[*]}");$(for i in $(seq 0 $((n - 1))); do printf '[c%d]' $i; done)xstack=inputs=$n:layout=$layout" -q:v 3 "$out/grid.jpg"
  echo "wrote $out/grid.jpg"
fi
