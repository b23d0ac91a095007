"""Benchmark: each attribution method on ResNet-18 at 224 (seeded random weights: the cost does
not depend on the weights), the app's path (`cnnviz.explain.attribution.attribute`: borrow
under the lock, snapshot, captum, hand back as found) vs captum called directly on the same
model object and input, alternating, medians of `--repeats` after one warm-up. Also the
default LeNet-5 on a digit. Prints figures; asserts nothing.

    python bench/attribution.py [--repeats 5] [--methods saliency,gradcam] [--side 224]
    python bench/attribution.py --device cuda   # captum directly on a GPU copy, when lent

Targets (issue 10): Saliency and Grad-CAM under 0.3 s, Integrated Gradients (32 steps,
internal batch 32) under 3 s, the app's path under 10% over captum's own time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from cnnviz import images, shared_model
from cnnviz.explain import attribution, models
from cnnviz.explain.attribution import METHODS, Params
from cnnviz.explain.feature_maps import module


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: the cold run
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(model, x, net, methods, params, repeats, target=3):
    p = params.checked(x.shape[-1])
    base = attribution.baseline_of(model, x, p.baseline)
    rows = []
    for method in methods:

        def app(method: str = method) -> None:
            attribution.attribute(model, x, method, target, p)

        def direct(method: str = method) -> None:
            attribution._run(net, x, target, method, p, base)

        # Alternate so that load on the machine hits both alike.
        app_t, direct_t = [], []
        for _ in range(2):
            direct_t.append(median_seconds(direct, max(1, repeats // 2)))
            app_t.append(median_seconds(app, max(1, repeats // 2)))
        a, d = min(app_t), min(direct_t)
        rows.append((method, d, a))
        print(
            f"  {METHODS[method]:<22} captum {d * 1000:9.1f} ms   app {a * 1000:9.1f} ms   "
            f"app/captum {a / d:5.2f}",
            flush=True,
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--side", type=int, default=224)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--device", default="cpu", help="cuda: captum directly on a GPU copy")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", UserWarning)
    methods = args.methods.split(",")
    params = Params(steps=32, samples=16, layer="layer4")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.2f}, {args.repeats} repeats"
    )
    model = models.imagenet("resnet18", pretrained=False, image_size=args.side)
    x = model.preprocess(images.photo("Coffee"))
    print(f"ResNet-18 (random weights), input {tuple(x.shape)}, CPU:")
    with shared_model.borrow("resnet18") as net:
        shared = net  # the object the app borrows; captum directly on it, between borrows
    for q in shared.parameters():
        q.requires_grad_(False)
    try:
        compare(model, x, shared, methods, params, args.repeats)
    finally:
        for q in shared.parameters():
            q.requires_grad_(True)
    lenet = models.default()
    digit = lenet.preprocess(images.photo("Coffee"))
    print(f"LeNet-5 (digits), input {tuple(digit.shape)}, CPU:")
    with lenet.borrow() as small:
        pass
    compare(lenet, digit, small, methods, Params(steps=32, samples=16, layer="s4"), args.repeats)
    if args.device != "cpu":
        gpu_net = torchvision_copy(shared, args.device)
        gx = x.to(args.device)
        print(f"ResNet-18 captum directly on {torch.cuda.get_device_name(args.device)}:")
        p = params.checked(x.shape[-1])
        for method in methods:
            base = torch.zeros_like(gx)

            def run(method=method, base=base):
                attribution._run(gpu_net, gx, 3, method, p, base)
                torch.cuda.synchronize()

            print(f"  {METHODS[method]:<22} {median_seconds(run, args.repeats) * 1000:9.1f} ms")
    return 0


def torchvision_copy(net: torch.nn.Module, device: str) -> torch.nn.Module:
    import copy

    twin = copy.deepcopy(net).to(device)
    for q in twin.parameters():
        q.requires_grad_(False)
    module(twin, "layer4")  # the Grad-CAM layer exists in the copy too
    return twin


if __name__ == "__main__":
    raise SystemExit(main())
