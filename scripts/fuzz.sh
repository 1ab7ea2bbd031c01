#!/usr/bin/env bash
# libFuzzer targets built with `swiftc -sanitize=fuzzer`:
#   scripts/fuzz.sh TARGET [SECONDS]      TARGET: flo | mask | chain | safetensors | pth | caffemodel
# The target's sources and their dependencies are compiled into one instrumented
# module (their `import` lines of sibling modules removed), the corpus lives in
# .build/fuzz/TARGET/corpus (seeded with a valid file), and the run prints libFuzzer's
# final stats. Exit status non-zero = a crash was found (its input is saved as crash-*).
set -euo pipefail
shopt -s globstar   # Engine keeps its sources in folders by concern
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
  chain|safetensors)
    # both live in Engine: the engine and every library under it become one module
    srcs=("$root"/Sources/{Kernels,VideoIO,Temporal,Photoreal,Engine}/**/*.swift)
    flags=(-I "$root/Sources/CBLAS" -I "$root/Sources/CFFmpeg" -I "$root/Sources/CHDF5"
           $(pkg-config --cflags-only-I hdf5 | sed 's/-I/-Xcc -I/g') $(pkg-config --libs hdf5)
           -lopenblas $(pkg-config --libs libavformat libavcodec libswscale libswresample libavutil))
    if [ "$target" = chain ]; then
      printf '%s' "scale=640:-2,style='a.jpg':0.5,temporal=200:frames=1|10,photoreal=1e4,smooth=4:0.01" > "$work/corpus/seed"
      printf '%s' "crop=320:180:10:20,style=s.png,iterations=100:10" > "$work/corpus/seed2"
    else
      # a valid file: one F32, one F16 and one BF16 tensor
      python3 - "$work/corpus/seed" <<'PY'
import json, struct, sys
h = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
     "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]},
     "c": {"dtype": "BF16", "shape": [1, 1], "data_offsets": [22, 24]},
     "__metadata__": {"format": "pt"}}
j = json.dumps(h).encode()
body = struct.pack("<4f", 1, -2, 0.5, 3) + struct.pack("<3e", 1, 2, -1) + b"\x80\x3f"
open(sys.argv[1], "wb").write(struct.pack("<Q", len(j)) + j + body)
PY
    fi
    ;;
  pth|caffemodel)
    # the readers need only Foundation: compiled alone, quickly
    srcs=("$root"/Sources/Engine/Formats/{ByteReader,TorchFile,ZipDirectory,CaffeModel,NamedArray}.swift "$root/Sources/Engine/EngineError.swift")
    flags=()
    if [ "$target" = pth ]; then
      # the files PyTorch wrote for the tests: a zip archive and a legacy stream
      cp "$root"/Tests/EngineTests/Fixtures/torch-{zip,legacy}.pth "$work/corpus/"
    else
      # a V1 net: a data layer, a 2×1×3×3 convolution with its bias, a ReLU
      python3 - "$work/corpus/seed" <<'PY'
import struct, sys
def varint(v):
    out = b""
    while v >= 0x80: out += bytes([v & 0x7F | 0x80]); v >>= 7
    return out + bytes([v])
def field(n, payload): return varint(n << 3 | 2) + varint(len(payload)) + payload
def num(n, v): return varint(n << 3) + varint(v)
def blob(dims, vals): return b"".join(num(i + 1, d) for i, d in enumerate(dims)) + field(5, struct.pack(f"<{len(vals)}f", *vals))
conv = field(4, b"conv1_1") + num(5, 4) + field(6, blob([2, 1, 3, 3], [0.5] * 18)) + field(6, blob([1, 1, 1, 2], [0.1, -0.1]))
net = field(1, b"VGG") + field(2, field(4, b"data") + num(5, 5)) + field(2, conv) + field(2, field(4, b"relu1_1") + num(5, 18))
open(sys.argv[1], "wb").write(net)
PY
    fi
    ;;
  *) echo "fuzz.sh: unknown target '$target' (known: flo, mask, chain, safetensors, pth, caffemodel)" >&2; exit 2 ;;
esac
cp "${srcs[@]}" "$work/src/"
sed -i -e '/^import Kernels$/d' -e '/^import Temporal$/d' -e '/^import Photoreal$/d' -e '/^import VideoIO$/d' -e '/^import Engine$/d' "$work/src/"*.swift
cp "$root/Fuzz/$target.swift" "$work/src/FuzzEntry.swift"
case "$target" in safetensors|pth|caffemodel) cp "$root/Fuzz/WeightReaderCheck.swift" "$work/src/" ;; esac
swiftc -sanitize=fuzzer -parse-as-library -O -module-name Kernels ${flags[@]+"${flags[@]}"} "$work/src/"*.swift -o "$work/fuzz-$target"
cd "$work"
dict=()
[ -f "$root/Fuzz/$target.dict" ] && dict=(-dict="$root/Fuzz/$target.dict")
"./fuzz-$target" "${dict[@]}" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 corpus
