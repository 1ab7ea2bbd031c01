#!/usr/bin/env python3
"""An independent PyTorch implementation of the same method, to compare stylevid against.

Same weights (the bundled HED-VGG16 .h5, Caffe preprocessing), same loss definitions
(content mean((F-F̂)²) at relu4_2; style Σ_l mean((G_l-Ĝ_l)²), G = FFᵀ/(CHW), at relu1_1..
relu5_1; TV w/2·Σ(Δ²) in 0..255 units), same weights and iteration budget, single level,
init from content, torch.optim.LBFGS(history 100, max_iter = budget). Writes the result
and prints its losses as JSON. Run in a venv with torch, h5py and pillow:
    python scripts/torch_gatys.py CONTENT STYLE OUT.png --size 256 --iterations 100
"""
import argparse, json, time
import h5py, numpy as np, torch
from PIL import Image

p = argparse.ArgumentParser()
p.add_argument("content"); p.add_argument("style"); p.add_argument("out")
p.add_argument("--weights", default=None)
p.add_argument("--size", type=int, default=256)
p.add_argument("--iterations", type=int, default=100)
p.add_argument("--content-weight", type=float, default=5)
p.add_argument("--style-weight", type=float, default=100)
p.add_argument("--tv-weight", type=float, default=1e-6)
a = p.parse_args()
torch.set_num_threads(2)
import os
weights = a.weights or os.path.expanduser(os.environ.get("STYLEVID_HOME", "~/.cache/stylevid")) + "/models/vgg16_hed.h5"

convs = []
with h5py.File(weights, "r") as f:
    for b, n in enumerate([2, 2, 3, 3, 3]):
        for i in range(n):
            g = f[f"block{b+1}/layers/conv2d{'' if i == 0 else '_' + str(i)}/vars"]
            k = torch.tensor(np.array(g["0"])).permute(3, 2, 0, 1).contiguous()  # (out,in,3,3)
            convs.append((k, torch.tensor(np.array(g["1"]))))
convs = convs[:11]  # up to conv5_1
names = ["relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3",
         "relu4_1", "relu4_2", "relu4_3", "relu5_1"]
pool_before = {2, 4, 7, 10}

def features(x):  # x: 1×3×H×W RGB 0..1
    mean = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    h = x[:, [2, 1, 0]] * 255 - mean
    out = {}
    for j, (k, b) in enumerate(convs):
        if j in pool_before:
            h = torch.nn.functional.max_pool2d(h, 2)
        h = torch.relu(torch.nn.functional.conv2d(h, k, b, padding=1))
        out[names[j]] = h
    return out

def load(path, longest):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = longest / max(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return torch.tensor(np.asarray(im), dtype=torch.float32).permute(2, 0, 1)[None] / 255

def gram(f):
    c = f.shape[1]; m = f.view(c, -1)
    return m @ m.t() / f.numel()

content = load(a.content, a.size)
style = load(a.style, a.size)
style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
with torch.no_grad():
    ct = features(content)["relu4_2"]
    sf = features(style)
    st = {l: gram(sf[l]) for l in style_layers}
x = content.clone().contiguous().requires_grad_(True)
parts = {}

def closure():
    opt.zero_grad()
    f = features(x)
    lc = a.content_weight * ((f["relu4_2"] - ct) ** 2).mean()
    ls = sum(a.style_weight * ((gram(f[l]) - st[l]) ** 2).mean() for l in style_layers)
    X = x * 255
    ltv = a.tv_weight / 2 * (((X[..., 1:, :] - X[..., :-1, :]) ** 2).sum() + ((X[..., :, 1:] - X[..., :, :-1]) ** 2).sum())
    loss = lc + ls + ltv
    loss.backward()
    parts.update(content=lc.item(), style=ls.item(), tv=ltv.item())
    return loss

opt = torch.optim.LBFGS([x], lr=1, max_iter=a.iterations, max_eval=a.iterations, history_size=100,
                        tolerance_grad=0, tolerance_change=0)
t = time.time()
opt.step(closure)
elapsed = time.time() - t
img = (x.detach().clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
Image.fromarray(img).save(a.out)
print(json.dumps({"impl": "pytorch", "size": a.size, "iterations": a.iterations, **{k: round(v, 3) for k, v in parts.items()},
                  "total": round(sum(parts.values()), 3), "seconds": round(elapsed, 1)}))
