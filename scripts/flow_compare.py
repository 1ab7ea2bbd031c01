#!/usr/bin/env python3
"""Compare stylevid's optical flow with OpenCV DIS ("medium" preset) and OpenCV DeepFlow on
image pairs with exact ground-truth flow. Convention everywhere: the flow w from frame A
to frame B satisfies a(p) = b(p + w(p)). Kinds of pair (4 photos each, stereo once):
  shift, zoom, swirl  B = the photo at 512 px wide, A = B warped by a known smooth flow:
                      a (3.7,-2.2) px pan, a 4% zoom about the centre, a swirl up to ~5 px.
  object              512x288: a textured blob (~200 px, cut from the next photo) moving
                      ~8 px (e.g. (7.6,-2.4)) over the static photo, so with occlusions and
                      sharp motion boundaries; true flow: the move on the blob in A, 0 off it.
                      Also reports EPE within 6 px of the blob's edge in A ("boundary") and
                      without the background of A that the blob covers in B ("noc").
  large_shift, large_zoom  512x288: a (23.4,-11.7) px pan and a 10% zoom; both frames are
                      cut from a larger copy of the photo, so A has no made-up border.
  stereo              the Middlebury 2014 motorcycle pair of scikit-image (disparity d of the
                      left image: left(x) = right(x - d)), left -> right flow (-d, 0), scaled
                      to 512 wide (d up to ~41 px) and centre-cropped to 512x288; pixels
                      without ground truth are left out.
EPE = mean end-point error over all pixels but a 12 px margin (and valid ones for stereo).
Times, per pair: stylevid's own "in N ms" (the median of 15 runs in one process:
`stylevid flow --repeat 15`), OpenCV's calc() timed here with cv2.setNumThreads(2) as the
median of 15 calls of an object made once (both warm, as in a video). Fifteen, not five:
on a VM whose idle CPUs halt (the haltpoll cpuidle driver), the first 3-6 runs of a process
went at one thread's speed (probably until the poll window had grown); both methods' first
runs pay for it, stylevid's more (BENCHMARKS.md). Prints a JSON line per
pair, then per kind, for the 512x288 pairs and overall: mean EPE and median ms per method.
Needs numpy and opencv-contrib-python-headless:
    python3 -m venv /tmp/cvenv && /tmp/cvenv/bin/pip install numpy opencv-contrib-python-headless
    /tmp/cvenv/bin/python scripts/flow_compare.py [STYLEVID_BINARY]
STYLEVID_FLOW_ARGS="--warps 2 --iterations 15" tries other settings of `stylevid flow`.
STYLEVID_FLOW_KINDS=object,stereo runs only these kinds.
STYLEVID_FLOW_METHODS=stylevid runs only these methods (quick sweeps of settings).
STYLEVID_FLOW_REPEAT=1 times one run per pair and method instead of the median of 15.
STYLEVID_FLOW_PAIRS_DIR=/tmp/flowpairs saves each pair as DIR/<kind>_<image>/A.png, B.png
and gt.flo (Middlebury .flo; pixels without ground truth hold 1e10, as Middlebury's do).
"""
import glob, io, json, os, subprocess, sys, tempfile, time, zipfile
import cv2, numpy as np

cv2.setNumThreads(2)
stylevid = sys.argv[1] if len(sys.argv) > 1 else ".build/release/stylevid"
cache = os.path.expanduser(os.environ.get("STYLEVID_HOME", "~/.cache/stylevid"))
home = cache + "/data"
W, H, MARGIN = 512, 288, 12
REPEAT = os.environ.get("STYLEVID_FLOW_REPEAT", "15")   # timed runs per pair and method
PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "motorcycle_left.png"]
MOVES = [(8.0, -3.0), (7.6, -2.4), (-7.3, 4.1), (8.4, 1.7)]   # object displacement per photo
KINDS = os.environ.get("STYLEVID_FLOW_KINDS", "shift,zoom,swirl,object,large_shift,large_zoom,stereo").split(",")
pairs_dir = os.environ.get("STYLEVID_FLOW_PAIRS_DIR")

def read_flo(p):
    with open(p, "rb") as f:
        assert np.frombuffer(f.read(4), np.float32)[0] == 202021.25
        w, h = np.frombuffer(f.read(8), np.int32)
        return np.frombuffer(f.read(), np.float32).reshape(h, w, 2)

def write_flo(p, flow):
    with open(p, "wb") as f:
        np.float32(202021.25).tofile(f); np.array(flow.shape[1::-1], np.int32).tofile(f)
        flow.astype(np.float32).tofile(f)

def grid(h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return xx, yy

def photo(name, w, h=None):
    """The photo resized to w wide, or resized to cover w x h and centre-cropped to it."""
    img = cv2.imread(f"{home}/{name}")
    if h is None:
        return cv2.resize(img, (w, int(w * img.shape[0] / img.shape[1]) // 2 * 2), interpolation=cv2.INTER_AREA)
    s = max(w / img.shape[1], h / img.shape[0])
    size = (int(np.ceil(img.shape[1] * s)), int(np.ceil(img.shape[0] * s)))
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    y, x = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return img[y:y + h, x:x + w]

def smooth_pair(img, kind):
    h, w = img.shape[:2]
    xx, yy = grid(h, w)
    if kind == "shift":
        u = np.full((h, w), 3.7, np.float32); v = np.full((h, w), -2.2, np.float32)
    elif kind == "zoom":      # 4% zoom about the centre
        u = (xx - w / 2) * 0.04; v = (yy - h / 2) * 0.04
    else:                     # smooth swirl up to ~5 px
        u = 5 * np.sin(yy / h * 2 * np.pi); v = 4 * np.cos(xx / w * 2 * np.pi)
    a = cv2.remap(img, xx + u, yy + v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return a, img, np.dstack([u, v])

def large_pair(big, kind):
    """B = the W x H centre of `big`; A samples `big` itself, which reaches 32/24 px further."""
    oy, ox = (big.shape[0] - H) // 2, (big.shape[1] - W) // 2
    xx, yy = grid(H, W)
    if kind == "large_shift":
        u = np.full((H, W), 23.4, np.float32); v = np.full((H, W), -11.7, np.float32)
    else:                     # 10% zoom about the centre: up to (25.6, 14.4) px
        u = (xx - W / 2) * 0.1; v = (yy - H / 2) * 0.1
    a = cv2.remap(big, xx + ox + u, yy + oy + v, cv2.INTER_LINEAR)
    return a, big[oy:oy + H, ox:ox + W], np.dstack([u, v])

def blob_alpha(xx, yy, c, r=80.0):
    """Coverage of an irregular blob (radius 80 +-23 px) centred at c, antialiased over 1 px."""
    dx, dy = xx - c[0], yy - c[1]
    t = np.arctan2(dy, dx)
    rad = r * (1 + 0.15 * np.sin(3 * t) + 0.08 * np.cos(5 * t + 1))
    return np.clip(rad - np.hypot(dx, dy) + 0.5, 0, 1)

def object_pair(bg, tex, move, c=(220.0, 148.0)):
    xx, yy = grid(H, W)
    frames = []
    for cx, cy in (c, (c[0] + move[0], c[1] + move[1])):
        al = blob_alpha(xx, yy, (cx, cy))
        obj = cv2.remap(tex, xx - cx + W / 2, yy - cy + H / 2, cv2.INTER_LINEAR)   # blob centre = tex centre
        img = al[..., None] * obj + (1 - al[..., None]) * bg
        frames.append((np.clip(img.round(), 0, 255).astype(np.uint8), al >= 0.5))
    (a, on_a), (b, on_b) = frames
    gt = np.zeros((H, W, 2), np.float32); gt[on_a] = move
    dist = cv2.distanceTransform(on_a.astype(np.uint8), cv2.DIST_L2, 5) + \
        cv2.distanceTransform((~on_a).astype(np.uint8), cv2.DIST_L2, 5)   # to the other side
    return a, b, gt, None, {"boundary": dist <= 6, "noc": ~(~on_a & on_b)}

def stereo_pair():
    wheel = sorted(glob.glob(f"{cache}/wheels/scikit_image-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as z:
        d = np.load(io.BytesIO(z.read("skimage/data/motorcycle_disp.npz")))["arr_0"]   # inf: unknown
    left, right = (cv2.imread(f"{home}/motorcycle_{s}.png") for s in ("left", "right"))
    s = W / left.shape[1]
    size = (W, round(left.shape[0] * s))
    left, right = (cv2.resize(i, size, interpolation=cv2.INTER_AREA) for i in (left, right))
    known = np.isfinite(d)
    ok = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    d = cv2.resize(np.where(known, d, 0).astype(np.float32), size, interpolation=cv2.INTER_AREA) * s
    y = (size[1] - H) // 2
    gt = np.dstack([-d, np.zeros_like(d)])
    return left[y:y + H], right[y:y + H], gt[y:y + H], ok[y:y + H], {}

def pairs():
    for i, name in enumerate(PHOTOS):
        img = photo(name, 512)
        for kind in ("shift", "zoom", "swirl"):
            yield name, kind, (*smooth_pair(img, kind), None, {})
        yield name, "object", object_pair(photo(name, W, H), photo(PHOTOS[(i + 1) % 4], W, H), MOVES[i])
        big = photo(name, W + 64, H + 48)
        for kind in ("large_shift", "large_zoom"):
            yield name, kind, (*large_pair(big, kind), None, {})
    yield "motorcycle", "stereo", stereo_pair()

tmp = tempfile.mkdtemp()
def run_stylevid(a, b):
    pa, pb, pf = f"{tmp}/a.png", f"{tmp}/b.png", f"{tmp}/f.flo"
    cv2.imwrite(pa, a); cv2.imwrite(pb, b)
    extra = os.environ.get("STYLEVID_FLOW_ARGS", "").split()
    r = subprocess.run([stylevid, "flow", pa, pb, pf, "--repeat", REPEAT] + extra, capture_output=True, text=True, check=True)
    return read_flo(pf), float(r.stderr.split(" in ")[-1].split(" ms")[0])

def run_cv(alg):
    def go(a, b):
        ga, gb = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
        times = []
        for _ in range(int(REPEAT)):
            t = time.perf_counter(); f = alg.calc(ga, gb, None); times.append((time.perf_counter() - t) * 1000)
        return f, float(np.median(times))
    return go

METHODS = {"stylevid": run_stylevid,
           "dis": run_cv(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)),
           "deepflow": run_cv(cv2.optflow.createOptFlow_DeepFlow())}
METHODS = {m: METHODS[m] for m in os.environ.get("STYLEVID_FLOW_METHODS", ",".join(METHODS)).split(",")}

def epe(f, gt, mask):
    return round(float(np.hypot(*(f - gt)[mask].T).mean()), 3)

rows = []
for name, kind, (a, b, gt, ok, masks) in pairs():
    if kind not in KINDS:
        continue
    h, w = gt.shape[:2]
    valid = np.zeros((h, w), bool); valid[MARGIN:-MARGIN, MARGIN:-MARGIN] = True
    known = ok if ok is not None else np.ones((h, w), bool)
    valid &= known
    if pairs_dir:
        d = f"{pairs_dir}/{kind}_{os.path.splitext(name)[0]}"
        os.makedirs(d, exist_ok=True)
        cv2.imwrite(f"{d}/A.png", a); cv2.imwrite(f"{d}/B.png", b)
        write_flo(f"{d}/gt.flo", np.where(known[..., None], gt, 1e10))
    row = {"image": name, "kind": kind, "size": f"{w}x{h}", "epe": {}, "ms": {}}
    for m, run in METHODS.items():
        f, ms = run(a, b)
        row["epe"][m] = epe(f, gt, valid); row["ms"][m] = round(ms, 1)
        for k, mask in masks.items():
            row.setdefault(f"{k}_epe", {})[m] = epe(f, gt, valid & mask)
    rows.append(row)
    print(json.dumps(row), flush=True)

def summary(rs):
    s = {"pairs": len(rs)}
    for key in [k for k in rs[0] if k.endswith("epe") and all(k in r for r in rs)]:
        s["mean_" + key] = {m: round(float(np.mean([r[key][m] for r in rs])), 3) for m in METHODS}
    s["median_ms"] = {m: round(float(np.median([r["ms"][m] for r in rs])), 1) for m in METHODS}
    return s

for kind in KINDS:
    rs = [r for r in rows if r["kind"] == kind]
    if rs:
        print(json.dumps({"summary": kind, **summary(rs)}))
at512 = [r for r in rows if r["size"] == "512x288"]     # the size issue 20's time bar names
if at512:
    print(json.dumps({"summary": "512x288", **summary(at512)}))
print(json.dumps({"summary": "all", **summary(rows)}))
