#!/usr/bin/env python3
"""Prototype of keyframe propagation for fast video (measurement only, not product code).

Every frame of a shot is its keyframes' results warped onto it by stylevid's own optical
flow (`stylevid flow`: frame -> keyframe, checked against keyframe -> frame as Ruder et al.
check), blended by temporal distance where the check holds; where no keyframe reaches, the
content recoloured to the nearest keyframe's palette. BENCHMARKS.md "Fast video: first
measurements" has the commands and the figures.

Usage: propagation_prototype.py IN OUT KEYS N   (OpenCV and numpy, e.g. in a throw-away venv)
  IN/f%03d.png: the N frames at processing size; IN/K%03d.png: the keyframes' results
  (KEYS, comma-separated frame numbers); writes OUT/o%03d.png.
  STYLEVID=path/to/stylevid (default .build/release/stylevid)
"""
import sys, os, time, numpy as np, cv2
IN, OUT, keys = sys.argv[1], sys.argv[2], [int(k) for k in sys.argv[3].split(',')]
n = int(sys.argv[4])
os.makedirs(OUT, exist_ok=True)
from prototype_frames import read as rd, flow, warp
def consistent(back, fwd):
    # Ruder et al.: forward flow sampled at the backward target must cancel the backward flow
    fw = warp(fwd, back)
    s = back + fw
    ok = (s ** 2).sum(-1) <= 0.01 * ((back ** 2).sum(-1) + (fw ** 2).sum(-1)) + 0.5
    h, w = back.shape[:2]
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = gx + back[..., 0], gy + back[..., 1]
    return ok & (tx >= 0) & (ty >= 0) & (tx <= w - 1) & (ty <= h - 1)
def recolour(img, ref):
    m, s = img.reshape(-1, 3).mean(0), img.reshape(-1, 3).std(0) + 1e-6
    rm, rs = ref.reshape(-1, 3).mean(0), ref.reshape(-1, 3).std(0)
    return np.clip((img - m) / s * rs + rm, 0, 1)
K = {k: rd(f'{IN}/K{k:03d}.png') for k in keys}
F = {k: rd(f'{IN}/f{k:03d}.png') for k in keys}
times = []; cover = []
for t in range(n):
    t0 = time.time()
    cur = rd(f'{IN}/f{t:03d}.png')
    num = np.zeros_like(cur); den = np.zeros(cur.shape[:2], np.float32)
    near = min(keys, key=lambda k: abs(k - t))
    for k in keys:
        if t == k: num += K[k]; den += 1; continue
        # temporal weight: the keyframes around t only, linear in the distance
        before = max([x for x in keys if x <= t], default=None); after = min([x for x in keys if x >= t], default=None)
        if k not in (before, after): continue
        wk = 1.0 if before is None or after is None or before == after else (1 - abs(t - k) / (after - before))
        back = flow(f'{IN}/f{t:03d}.png', f'{IN}/f{k:03d}.png', OUT + '/b.flo')
        fwd = flow(f'{IN}/f{k:03d}.png', f'{IN}/f{t:03d}.png', OUT + '/f.flo')
        c = consistent(back, fwd).astype(np.float32) * wk
        num += warp(K[k], back) * c[..., None]; den += c
    hole = den <= 1e-6
    out = np.where(hole[..., None], recolour(cur, K[near]), num / np.maximum(den, 1e-6)[..., None])
    cover.append(1 - hole.mean())
    cv2.imwrite(f'{OUT}/o{t:03d}.png', np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8))
    times.append(time.time() - t0)
print('frames', n, 'keyframes', keys, 'mean s/frame (4 CLI flows + numpy)', round(float(np.mean(times)), 3),
      'coverage min/mean', round(float(np.min(cover)), 3), round(float(np.mean(cover)), 3))
