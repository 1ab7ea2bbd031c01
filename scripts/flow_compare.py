#!/usr/bin/env python3
"""Compare stylevid's optical flow with OpenCV's DIS "medium" preset on pairs with known
flow, made from real photos: frame B is the photo, frame A = B warped by a known flow
(a(p) = b(p + w(p))), so the true flow from A to B is w. Prints EPE and ms for both.
Needs a venv with opencv-python-headless and numpy:
    python scripts/flow_compare.py [STYLEVID_BINARY]
STYLEVID_FLOW_ARGS="--warps 2 --iterations 15" tries other settings of `stylevid flow`.
"""
import json, os, subprocess, sys, tempfile, time
import cv2, numpy as np

stylevid = sys.argv[1] if len(sys.argv) > 1 else ".build/release/stylevid"
home = os.path.expanduser(os.environ.get("STYLEVID_HOME", "~/.cache/stylevid")) + "/data"

def read_flo(p):
    with open(p, "rb") as f:
        assert np.frombuffer(f.read(4), np.float32)[0] == 202021.25
        w, h = np.frombuffer(f.read(8), np.int32)
        return np.frombuffer(f.read(), np.float32).reshape(h, w, 2)

def make_pair(img, kind):
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "shift":
        u = np.full((h, w), 3.7, np.float32); v = np.full((h, w), -2.2, np.float32)
    elif kind == "zoom":      # 4% zoom about the centre
        u = (xx - w / 2) * 0.04; v = (yy - h / 2) * 0.04
    else:                     # smooth swirl up to ~5 px
        u = 5 * np.sin(yy / h * 2 * np.pi) ; v = 4 * np.cos(xx / w * 2 * np.pi)
    a = cv2.remap(img, xx + u, yy + v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return a, np.dstack([u, v])

def epe(f, gt, m=12):
    d = (f - gt)[m:-m, m:-m]
    return float(np.sqrt((d ** 2).sum(-1)).mean())

dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
rows = []
tmp = tempfile.mkdtemp()
for name in ["astronaut.png", "coffee.png", "chelsea.png", "motorcycle_left.png"]:
    img = cv2.imread(f"{home}/{name}")
    img = cv2.resize(img, (512, int(512 * img.shape[0] / img.shape[1]) // 2 * 2), interpolation=cv2.INTER_AREA)
    for kind in ["shift", "zoom", "swirl"]:
        a, gt = make_pair(img, kind)
        pa, pb, pf = f"{tmp}/a.png", f"{tmp}/b.png", f"{tmp}/f.flo"
        cv2.imwrite(pa, a); cv2.imwrite(pb, img)
        ga, gb = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        t = time.perf_counter(); fd = dis.calc(ga, gb, None); dms = (time.perf_counter() - t) * 1000
        extra = os.environ.get("STYLEVID_FLOW_ARGS", "").split()
        r = subprocess.run([stylevid, "flow", pa, pb, pf] + extra, capture_output=True, text=True, check=True)
        sms = float(r.stderr.split(" in ")[-1].split(" ms")[0])
        fs = read_flo(pf)
        rows.append({"image": name, "motion": kind, "size": f"{img.shape[1]}x{img.shape[0]}",
                     "stylevid_epe": round(epe(fs, gt), 3), "dis_medium_epe": round(epe(fd, gt), 3),
                     "stylevid_ms": round(sms), "dis_medium_ms": round(dms, 1)})
        print(json.dumps(rows[-1]))
print(json.dumps({"mean_stylevid_epe": round(np.mean([r["stylevid_epe"] for r in rows]), 3),
                  "mean_dis_epe": round(np.mean([r["dis_medium_epe"] for r in rows]), 3),
                  "median_stylevid_ms": float(np.median([r["stylevid_ms"] for r in rows])),
                  "median_dis_ms": float(np.median([r["dis_medium_ms"] for r in rows]))}))
