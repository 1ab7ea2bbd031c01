"""Helpers the fast-video prototypes share (propagation_prototype.py,
patch_synthesis_prototype.py): frames, stylevid's optical flow as .flo files, warping."""
import os, subprocess, numpy as np, cv2

STYLEVID = os.environ.get('STYLEVID', '.build/release/stylevid')

def read(path):
    """An image as floats in 0..1 (OpenCV's BGR channel order)."""
    return cv2.imread(path, cv2.IMREAD_COLOR).astype(np.float32) / 255

def read_flo(path):
    with open(path, 'rb') as f:
        assert np.frombuffer(f.read(4), np.float32)[0] == 202021.25
        w, h = np.frombuffer(f.read(8), np.int32)
        return np.frombuffer(f.read(), np.float32).reshape(h, w, 2)

def flow(a, b, out):
    """stylevid's flow from image a to image b (`stylevid flow`), through the file out."""
    subprocess.run([STYLEVID, 'flow', a, b, out], check=True, stderr=subprocess.DEVNULL)
    return read_flo(out)

def warp(img, fl):
    """Backward bicubic warp: out(x) = img(x + fl(x))."""
    h, w = fl.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + fl[..., 0], gy + fl[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
