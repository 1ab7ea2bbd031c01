#!/usr/bin/env python3
"""The drift of a stylized pan whose true motion is an exact shift, measured without any flow.

Usage:
    python scripts/exact_shift_error.py STYLIZED.mp4 [--dx 2] [--dy 0] [--ring 2]

For a pan made by cropping a still photo DX px further right (DY further down) per frame,
as in BENCHMARKS.md ("Why the stylized pan still drifted"):
    ffmpeg -loop 1 -i coffee.png -vf "crop=384:216:x='2*n':y=90" -frames:v 24 -c:v ffv1 \
        -pix_fmt bgr0 pan.mkv
a perfectly steady stylization satisfies O_t(x, y) = O_{t-1}(x + DX, y + DY). Per pair,
the error is the mean over the overlap of ||O_t(x, y) - O_{t-1}(x + DX, y + DY)||^2, RGB in
0..1, the squared norm summed over the 3 channels (as the warping error). Also prints the
share of the error (of the mean over all pairs) in the outer RING px of the overlap. Needs
numpy and ffmpeg. Prints one JSON line.
"""
import argparse
import json
import subprocess

import numpy as np


def frames(path):
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path], capture_output=True, text=True, check=True)
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float32) / 255


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--dx", type=int, default=2)
    ap.add_argument("--dy", type=int, default=0)
    ap.add_argument("--ring", type=int, default=2)
    a = ap.parse_args()
    f = frames(a.video)
    if len(f) < 2:
        raise SystemExit(f"exact_shift_error: {a.video}: needs at least 2 frames")
    h, w = f.shape[1:3]
    dx, dy = a.dx, a.dy
    if abs(dx) >= w or abs(dy) >= h:
        raise SystemExit(f"exact_shift_error: a shift of ({dx}, {dy}) leaves no overlap in {w}x{h}")
    # O_t on the pixels whose (x + dx, y + dy) stays in the frame, O_{t-1} there
    cur = (slice(max(-dy, 0), h - max(dy, 0)), slice(max(-dx, 0), w - max(dx, 0)))
    prev = (slice(max(dy, 0), h - max(-dy, 0)), slice(max(dx, 0), w - max(-dx, 0)))
    maps = [((f[t][cur] - f[t - 1][prev]) ** 2).sum(-1) for t in range(1, len(f))]
    m = np.mean(maps, 0)
    r = a.ring
    inner = m[r:m.shape[0] - r, r:m.shape[1] - r]
    print(json.dumps({"frames": len(f), "pairs": len(maps),
                      "exact_shift_error": round(float(m.mean()), 6),
                      "per_pair": [round(float(e.mean()), 6) for e in maps],
                      "ring_px": r, "ring_share": round(float(1 - inner.sum() / m.sum()), 3) if m.sum() > 0 else None,
                      "interior_error": round(float(inner.mean()), 6)}))


if __name__ == "__main__":
    main()
