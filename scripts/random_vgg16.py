"""One random full-size VGG16 (torchvision's names and shapes, classifier included),
written three ways into DIR: vgg16-legacy.pth (torch.save's legacy stream), vgg16-zip.pth
(its zip archive) and vgg16.safetensors. Used by the tests (WeightFormatCLITests) where
PyTorch is installed:

    python3 scripts/random_vgg16.py DIR
"""
import ctypes
import json
import os
import struct
import sys
from collections import OrderedDict

import torch

out = sys.argv[1]
torch.manual_seed(0)
sd, cin, i = OrderedDict(), 3, 0
for block in [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]:
    for cout in block:
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3) * (2 / (9 * cin)) ** 0.5
        sd[f"features.{i}.bias"] = torch.randn(cout) * 0.01
        cin, i = cout, i + 2
    i += 1
for j, (o, n) in zip([0, 3, 6], [(4096, 25088), (4096, 4096), (1000, 4096)]):
    sd[f"classifier.{j}.weight"] = torch.randn(o, n) * 0.01
    sd[f"classifier.{j}.bias"] = torch.zeros(o)
torch.save(sd, os.path.join(out, "vgg16-zip.pth"))
torch.save(sd, os.path.join(out, "vgg16-legacy.pth"), _use_new_zipfile_serialization=False)

header, offset = {}, 0
for name, t in sd.items():
    header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
    offset += t.nbytes
j = json.dumps(header).encode()
with open(os.path.join(out, "vgg16.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(j)) + j)
    for t in sd.values():
        t = t.contiguous()
        f.write(ctypes.string_at(t.data_ptr(), t.nbytes))
