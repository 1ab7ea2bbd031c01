#!/usr/bin/env python3
"""Independent reference for the temporal warping error (Lai et al. 2018) of a stylised video.

Usage:
    python scripts/warp_error_reference.py STYLIZED.mp4 INPUT.mp4 [--frames A-B]
           [--flow deepflow|dis] [--size WxH]

Flow from OpenCV (DeepFlow, or DIS "medium"), not stylevid's, so renders made with either of
stylevid's flows are judged by a third party. Definition as stylevid's `WarpingError`
(Sources/Engine/Video/WarpingError.swift) and `Warp.consistency` (Sources/Temporal/Warp.swift):
stylised frame k <-> input frame k + A (A from --frames A-B, the range rendered; default 0),
input scaled to the stylised size (INTER_AREA); per pair (t-1, t) on grayscale input frames,
backward flow w^ (t -> t-1) and forward flow w~ (t-1 -> t) sampled bilinearly at x + w^(x);
mask M = 0 where x + w^ leaves the image, where |w~ + w^|^2 >= 0.01(|w~|^2 + |w^|^2) + 0.5,
and where |grad u^|^2 + |grad v^|^2 > 0.01|w^|^2 + 0.002 (central differences);
E_t = sum M ||O_t - warp(O_{t-1})||^2 / sum M, O RGB in 0..1, the squared norm SUMMED over
the 3 channels, warp = bilinear backward warp with w^. Pairs with mask coverage < 10% are
skipped (shot changes); the result is the mean E_t over the rest.
--size WxH rescales the stylised frames too: give the input as "stylised" to see the floor.
Prints one JSON line: frames, pairs, skipped, warping_error, coverage, per-pair errors.
"""
import argparse
import json
import sys

import cv2
import numpy as np

CUT_THRESHOLD = 0.1


def read_frames(path, start=0, count=None, size=None):
    """RGB float32 frames in 0..1, frames [start, start + count), optionally resized."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f"cannot open {path}")
    frames, k = [], 0
    while count is None or len(frames) < count:
        ok, bgr = cap.read()
        if not ok:
            break
        if k >= start:
            if size is not None and (bgr.shape[1], bgr.shape[0]) != size:
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)
        k += 1
    cap.release()
    return frames


def make_flow(kind):
    if kind == "deepflow":
        algo = cv2.optflow.createOptFlow_DeepFlow()
    else:
        algo = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return lambda a, b: algo.calc(a, b, None)   # flow f with a(x) ~ b(x + f(x))


def gray(rgb):
    return cv2.cvtColor((rgb * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def pair_error(flow, in_prev, in_cur, out_prev, out_cur):
    g_prev, g_cur = gray(in_prev), gray(in_cur)
    back = flow(g_cur, g_prev)            # t -> t-1: in_cur(x) ~ in_prev(x + back(x))
    fwd = flow(g_prev, g_cur)             # t-1 -> t
    h, w = g_cur.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    bu, bv = back[..., 0], back[..., 1]
    sx, sy = xs + bu, ys + bv
    inside = np.isfinite(sx) & np.isfinite(sy) & (sx >= 0) & (sy >= 0) & (sx <= w - 1) & (sy <= h - 1)
    f = cv2.remap(fwd, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fu, fv = f[..., 0], f[..., 1]
    occluded = (fu + bu) ** 2 + (fv + bv) ** 2 >= 0.01 * (fu ** 2 + fv ** 2 + bu ** 2 + bv ** 2) + 0.5
    uy, ux = np.gradient(bu)
    vy, vx = np.gradient(bv)
    boundary = ux ** 2 + uy ** 2 + vx ** 2 + vy ** 2 > 0.01 * (bu ** 2 + bv ** 2) + 0.002
    mask = inside & ~occluded & ~boundary
    warped = cv2.remap(out_prev, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    d2 = ((out_cur.astype(np.float64) - warped) ** 2).sum(axis=2)
    n = int(mask.sum())
    return (float(d2[mask].sum() / n) if n else 0.0), n / mask.size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stylized")
    ap.add_argument("input")
    ap.add_argument("--frames", default=None, help="A-B: input frames the render was made from")
    ap.add_argument("--flow", choices=["deepflow", "dis"], default="deepflow")
    ap.add_argument("--size", default=None, help="WxH: rescale the stylised frames too")
    args = ap.parse_args()
    cv2.setNumThreads(2)

    start, count = 0, None
    if args.frames:
        a, b = (int(s) for s in args.frames.split("-"))
        start, count = a, b - a + 1
    size = tuple(int(s) for s in args.size.lower().split("x")) if args.size else None
    outs = read_frames(args.stylized, 0, count, size)
    if not outs:
        sys.exit(f"no frames in {args.stylized}")
    h, w = outs[0].shape[:2]
    ins = read_frames(args.input, start, len(outs), (w, h))
    if count is not None and len(outs) != count:
        print(f"warning: {args.stylized} has {len(outs)} frames, --frames asks for {count}", file=sys.stderr)
    if len(ins) < len(outs):
        print(f"warning: input has only {len(ins)} frames from {start}; using those", file=sys.stderr)
    n = min(len(ins), len(outs))
    if n < 2:
        sys.exit("need at least 2 matching frames")

    flow = make_flow(args.flow)
    errors, coverages, kept = [], [], []
    for t in range(1, n):
        e, cov = pair_error(flow, ins[t - 1], ins[t], outs[t - 1], outs[t])
        errors.append(e)
        coverages.append(cov)
        if cov >= CUT_THRESHOLD:
            kept.append(e)
    print(json.dumps({
        "frames": n, "pairs": len(kept), "skipped": len(errors) - len(kept), "flow": args.flow,
        "size": [w, h],
        "warping_error": round(float(np.mean(kept)), 6) if kept else None,
        "coverage_mean": round(float(np.mean(coverages)), 4),
        "warping_error_per_pair": [round(e, 6) for e in errors],
    }))


if __name__ == "__main__":
    main()
