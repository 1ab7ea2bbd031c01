"""Writes the PyTorch fixtures of TorchFileTests with PyTorch itself:

    python3 Tests/EngineTests/Fixtures/make_torch_fixtures.py   (needs `pip install torch`)

- torch-zip.pth and torch-legacy.pth: the same state dict in torch.save's two layouts
  (the zip archive, torch 1.6 on; the legacy pickle stream); it holds contiguous and
  non-contiguous float32 views of one storage, a view with a storage offset and a stride,
  float16 (also transposed), bfloat16, a 0-d tensor and an nn.Parameter;
- torch-expected.json: each tensor's shape and values, row-major, from PyTorch;
- foreign-zip.pth and foreign-legacy.pth: pickles that call os.system when unpickled
  (the reader must refuse them, naming the global);
- not-a-state-dict.pth: a list of numbers;
- checkpoint-legacy.pth: a training checkpoint, {"state_dict": {"w": …}, "optimizer":
  {"m": …}}, in the legacy layout (its optimizer's storage comes first in the file).
Written with torch 2.15.0.
"""
import json
import os
from collections import OrderedDict

import torch

here = os.path.dirname(os.path.abspath(__file__))
base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1
half = (torch.arange(6, dtype=torch.float32) / 3 - 0.5).half().reshape(2, 3)
sd = OrderedDict()
sd["features.0.weight"] = base
sd["transposed"] = base.t()                                      # strides (1, 4)
sd["sliced"] = torch.arange(20, dtype=torch.float32)[3:15:3]     # offset 3, stride 3
sd["half"] = half
sd["half_t"] = half.t()
sd["bfloat"] = torch.tensor([1.5, -2.25, 3.0e3], dtype=torch.bfloat16)
sd["scalar"] = torch.tensor(7.0)
sd["param"] = torch.nn.Parameter(torch.tensor([0.5, -0.5]))
torch.save(sd, os.path.join(here, "torch-zip.pth"))
torch.save(sd, os.path.join(here, "torch-legacy.pth"), _use_new_zipfile_serialization=False)
expected = {k: {"shape": list(v.shape), "values": v.detach().float().flatten().tolist()} for k, v in sd.items()}
with open(os.path.join(here, "torch-expected.json"), "w") as f:
    json.dump(expected, f, indent=1)


class Foreign:
    def __reduce__(self):
        return (os.system, ("echo this ran > /tmp/stylevid-pickle-ran",))


torch.save({"x": Foreign()}, os.path.join(here, "foreign-zip.pth"))
torch.save({"x": Foreign()}, os.path.join(here, "foreign-legacy.pth"), _use_new_zipfile_serialization=False)
torch.save([1, 2, 3], os.path.join(here, "not-a-state-dict.pth"))
ckpt = {"optimizer": {"m": torch.full((5,), 9.0)}, "state_dict": OrderedDict(w=torch.tensor([[1.0, 2.0], [3.0, 4.0]]))}
torch.save(ckpt, os.path.join(here, "checkpoint-legacy.pth"), _use_new_zipfile_serialization=False)
