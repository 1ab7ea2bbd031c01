#!/usr/bin/env python3
"""PyTorch's time for what `stylevid bench` times: one VGG forward pass up to relu5_1 and
the gradient with respect to the input image, on the CPU, median of --reps runs.

    python scripts/torch_vgg_bench.py --model vgg16 --size 512x288 [--threads 2] [--reps 5]

Prints one JSON line with ms_per_iteration. The weights are random (timing does not depend
on them); only the convolutions, ReLUs and 2x2 max pools before relu5_1 are built.
scripts/bench.sh runs it interleaved with stylevid's own benchmark.
"""
import argparse, json, statistics, time

import torch

STAGES = {"vgg16": [2, 2, 3, 3, 1], "vgg19": [2, 2, 4, 4, 1]}   # 3x3 convolutions per block
WIDTHS = [64, 128, 256, 512, 512]

args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
args.add_argument("--model", choices=sorted(STAGES), default="vgg19")
args.add_argument("--size", default="512x288", help="WIDTHxHEIGHT of the input")
args.add_argument("--threads", type=int, default=2)
args.add_argument("--reps", type=int, default=5)
a = args.parse_args()
torch.set_num_threads(a.threads)

modules, channels = [], 3
for block, (count, width) in enumerate(zip(STAGES[a.model], WIDTHS)):
    if block > 0:
        modules.append(torch.nn.MaxPool2d(2))
    for _ in range(count):
        modules += [torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU()]
        channels = width
network = torch.nn.Sequential(*modules).eval().requires_grad_(False)
width, height = (int(v) for v in a.size.split("x"))
image = torch.rand(1, 3, height, width, requires_grad=True)


def evaluation():
    features = network(image)
    features.square().mean().backward()
    image.grad = None


evaluation()                                   # warm-up: oneDNN picks its kernels
times = []
for _ in range(a.reps):
    start = time.perf_counter()
    evaluation()
    times.append(time.perf_counter() - start)
print(json.dumps({"model": a.model, "size": a.size, "threads": a.threads,
                  "ms_per_iteration": round(1000 * statistics.median(times), 1)}))
