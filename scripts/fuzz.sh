#!/usr/bin/env bash
# libFuzzer targets built with `swiftc -sanitize=fuzzer`:
#   scripts/fuzz.sh TARGET [SECONDS]      TARGET: flo | mask
# The target's sources and their dependencies are compiled into one instrumented
# module (their `import` lines of sibling modules removed), the corpus lives in
# .build/fuzz/TARGET/corpus (seeded with a valid file), and the run prints libFuzzer's
# final stats. Exit status non-zero = a crash was found (its input is saved as crash-*).
set -euo pipefail
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
secs=${2:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${FUZZ_DIR:-$root/.build/fuzz}/$target
rm -rf "$work/src"; mkdir -p "$work/src" "$work/corpus"
case "$target" in
  flo)
    srcs=("$root"/Sources/Kernels/*.swift "$root/Sources/Temporal/Flow.swift")
    flags=(-I "$root/Sources/CBLAS" -lopenblas)
    # a valid 3×2 flow as the seed
    python3 - "$work/corpus/seed.flo" <<'PY'
import struct, sys
w, h = 3, 2
open(sys.argv[1], "wb").write(struct.pack("<fii", 202021.25, w, h) + struct.pack("<12f", *[0.5 * i for i in range(12)]))
PY
    ;;
  mask)
    srcs=("$root"/Sources/Kernels/*.swift "$root/Sources/Photoreal/SegmentationMask.swift")
    flags=(-I "$root/Sources/CBLAS" -lopenblas)
    # a 4×2 colour-coded mask (red, blue, white, red…) and a map
    python3 - "$work/corpus/seed" <<'PY'
import sys
px = [255,0,0, 0,0,255, 255,255,255, 250,5,5, 0,0,0, 0,0,255, 128,128,128, 255,0,255]
open(sys.argv[1], "wb").write(bytes([3, 1] + px) + b"red=blue,white=red")
PY
    ;;
  *) echo "fuzz.sh: unknown target '$target' (known: flo, mask)" >&2; exit 2 ;;
esac
cp "${srcs[@]}" "$work/src/"
sed -i -e '/^import Kernels$/d' -e '/^import Temporal$/d' -e '/^import Photoreal$/d' "$work/src/"*.swift
cp "$root/Fuzz/$target.swift" "$work/src/FuzzEntry.swift"
swiftc -sanitize=fuzzer -parse-as-library -O -module-name Kernels "${flags[@]}" "$work/src/"*.swift -o "$work/fuzz-$target"
cd "$work"
"./fuzz-$target" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 corpus
