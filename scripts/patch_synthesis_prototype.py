#!/usr/bin/env python3
"""Prototype of guided patch synthesis for fast video, after EbSynth (Jamriska et al. 2019),
measurement only (BENCHMARKS.md "Fast video: first measurements"): each frame is synthesised from the keyframes' results by a nearest-neighbour
field found with PatchMatch, guided by the input frames' colours (frame vs keyframe input) and a
positional guide (where stylevid's flow frame -> keyframe says a pixel came from); the patches
are voted into the frame, and the two keyframes around it are blended by temporal distance and
by their patch error. With LTEMP > 0, as EbSynth: a run from each keyframe toward the next and
the one before, each frame also guided by the run's previous output warped onto it.

Usage: patch_synthesis_prototype.py IN OUT KEYS N   (OpenCV and numpy, e.g. in a throw-away venv)
  IN/f%03d.png: the N frames at processing size; IN/K%03d.png: the keyframes' results (KEYS,
  comma-separated, the first 0 and the last N-1); writes OUT/o%03d.png.
  Environment: PATCH (patch radius, 2), LPOS (positional guide weight per px², 0.002), ITERS
  (PatchMatch iterations, 4), LTEMP (temporal guide weight, 0), STYLEVID (the binary).
"""
import sys, os, time, numpy as np, cv2
IN, OUT, keys = sys.argv[1], sys.argv[2], [int(k) for k in sys.argv[3].split(',')]
n = int(sys.argv[4])
R = int(os.environ.get('PATCH', '2'))            # patch radius: 5x5
LPOS = float(os.environ.get('LPOS', '0.002'))     # positional guide weight per px^2
ITERS = int(os.environ.get('ITERS', '4'))
LTEMP = float(os.environ.get('LTEMP', '0'))   # temporal guide weight (0: every frame independent)
os.makedirs(OUT, exist_ok=True)
from prototype_frames import read as rd, flow, warp
offs = [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]
def pad(img): return np.pad(img, ((R, R), (R, R), (0, 0)), mode='edge')
def patch_cost(Gt_p, Gk_p, sy, sx, h, w):
    # sum over the patch of |Gt(x+d) - Gk(s+d)|^2; s in source coords (no padding)
    c = np.zeros((h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w]
    for dy, dx in offs:
        a = Gt_p[ys + dy + R, xs + dx + R]
        b = Gk_p[sy + dy + R, sx + dx + R]
        c += ((a - b) ** 2).sum(-1)
    return c
def nnf(Gt, Gk, pos, prev=None, Sk=None):
    rng = np.random.default_rng(0)   # the same candidates every frame
    h, w = Gt.shape[:2]; hk, wk = Gk.shape[:2]
    Gt_p, Gk_p = pad(Gt), pad(Gk)
    py, px = pos[..., 1], pos[..., 0]
    sy = np.clip(np.rint(py), 0, hk - 1).astype(np.int64); sx = np.clip(np.rint(px), 0, wk - 1).astype(np.int64)
    P_p, S_p = (pad(prev), pad(Sk)) if prev is not None else (None, None)
    def cost(sy, sx):
        c = patch_cost(Gt_p, Gk_p, sy, sx, h, w) + LPOS * ((sy - py) ** 2 + (sx - px) ** 2)
        if P_p is not None: c = c + LTEMP * patch_cost(P_p, S_p, sy, sx, h, w)
        return c
    best = cost(sy, sx)
    def attempt(cy, cx):
        nonlocal sy, sx, best
        cy = np.clip(cy, 0, hk - 1); cx = np.clip(cx, 0, wk - 1)
        c = cost(cy, cx); better = c < best
        sy = np.where(better, cy, sy); sx = np.where(better, cx, sx); best = np.where(better, c, best)
    for it in range(ITERS):
        for ax, step in ((1, 1), (0, 1), (1, -1), (0, -1)):
            # neighbour's match shifted by one (Jacobi-style propagation)
            ny = np.roll(sy, step, axis=ax); nx = np.roll(sx, step, axis=ax)
            if ax == 0: ny = ny + step
            else: nx = nx + step
            attempt(ny, nx)
        r = max(hk, wk) // 4
        while r >= 1:
            attempt(sy + rng.integers(-r, r + 1, sy.shape), sx + rng.integers(-r, r + 1, sx.shape)); r //= 2
    return sy, sx, best
def vote(Sk, sy, sx):
    h, w = sy.shape; hk, wk = Sk.shape[:2]
    acc = np.zeros((h, w, 3), np.float32); cnt = np.zeros((h, w), np.float32)
    for dy, dx in offs:
        # the patch at x - d covers x: its pixel there is Sk(s(x - d) + d)
        ys = np.clip(np.arange(h)[:, None] - dy, 0, h - 1); xs = np.clip(np.arange(w)[None, :] - dx, 0, w - 1)
        yy = np.clip(sy[ys, xs] + dy, 0, hk - 1); xx = np.clip(sx[ys, xs] + dx, 0, wk - 1)
        acc += Sk[yy, xx]; cnt += 1
    return acc / cnt[..., None]
K = {k: rd(f'{IN}/K{k:03d}.png') for k in keys}
G = {k: rd(f'{IN}/f{k:03d}.png') for k in keys}
# EbSynth's runs: from each keyframe toward the next (forward) and the one before (backward),
# each frame guided by the run's previous output warped onto it (the temporal guide)
runs = {}   # (k, t) -> (output, error)
times = {}
for a_, b_ in zip(keys, keys[1:]):
    for k, order in ((a_, range(a_ + 1, b_)), (b_, range(b_ - 1, a_, -1))):
        prev, prev_t = K[k], k
        for t in order:
            t0 = time.time()
            cur = rd(f'{IN}/f{t:03d}.png')
            back = flow(f'{IN}/f{t:03d}.png', f'{IN}/f{k:03d}.png', OUT + '/b.flo')
            h, w = back.shape[:2]
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            pos = np.stack([gx + back[..., 0], gy + back[..., 1]], -1)
            guide = None
            if LTEMP > 0:
                step = flow(f'{IN}/f{t:03d}.png', f'{IN}/f{prev_t:03d}.png', OUT + '/s.flo')
                guide = warp(prev, step)
            sy, sx, err = nnf(cur, G[k], pos, guide, K[k])
            out = vote(K[k], sy, sx)
            runs[(k, t)] = (out, cv2.blur(err, (5, 5)))
            prev, prev_t = out, t
            times[t] = times.get(t, 0) + time.time() - t0
for t in range(n):
    if t in keys: out = K[t]
    else:
        before = max(x for x in keys if x <= t); after = min(x for x in keys if x >= t)
        parts = [(1 - abs(t - k) / (after - before),) + runs[(k, t)] for k in (before, after)]
        sigma = np.median(np.concatenate([p[2].ravel() for p in parts])) + 1e-6
        ws = [p[0] * np.exp(-p[2] / sigma) + 1e-6 for p in parts]
        out = sum(wv[..., None] * p[1] for wv, p in zip(ws, parts)) / sum(ws)[..., None]
    cv2.imwrite(f'{OUT}/o{t:03d}.png', np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8))
print('mean s/frame (numpy prototype)', round(float(np.mean(list(times.values()))), 2))
