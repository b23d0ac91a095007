"""Benchmark: what an Explain job ships and what naming a model by its spec costs (issue 21).
Side by side, one run: the bytes of a job's pickled inputs (the spec against the weights a
model object would drag along), the page's cost of naming a fine-tuned ResNet-18 (written once
to the model store by content hash, then cached), a worker's cost of resolving each kind of
spec (first time: built from the spec; then kept), and a run's validation images stored by
reference against shipping them. Medians of `--repeats`. Prints figures; asserts nothing.

    python bench/job_inputs.py [--repeats 5] [--images 400] [--side 224]
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from cnnviz import shared_model
from cnnviz.explain import models, reference_images
from cnnviz.explain.attribution import Params
from cnnviz.train import TrainedModel, backbones


def seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n >= 2**20 else f"{n:,} B"


def state_bytes(net: torch.nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    return len(buffer.getvalue())


def forget() -> None:
    """As a worker that has never seen the model: no fine-tuned model held, nothing built,
    no LeNet-5 loaded, no shared model kept."""
    models._held.clear()
    models._built.clear()
    models._default.cache_clear()
    shared_model.clear()


def resolve_and_borrow(spec: models.ModelSpec) -> None:
    """What a job does first: resolve the spec, borrow the network (built now if new)."""
    with models.resolve(spec).borrow():
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=400, help="validation images of a run")
    parser.add_argument("--side", type=int, default=224)
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="cnnviz-bench-store-")
    os.environ[models.STORE_ENV] = store
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), store {store}")

    lenet = models.default()
    resnet = models.imagenet("resnet18", pretrained=False)
    net = backbones.build(backbones.spec("resnet18"), "none", 10, 0).eval()
    trained = TrainedModel(net, [str(i) for i in range(10)], "resnet18", 224, [0.5] * 3, [0.25] * 3)
    fine = models.trained(trained)
    x = resnet.preprocess(torch.zeros(3, 224, 224, dtype=torch.uint8))
    params = Params()

    print("\nThe page naming a fine-tuned ResNet-18 (Explained.spec)")
    first = once(fine.spec)
    again = seconds(fine.spec, args.repeats)
    size = Path(fine.spec().file).stat().st_size
    print(
        f"first (save, hash, write {mb(size)}): {first * 1000:,.0f} ms; then {again * 1e6:,.1f} us"
    )

    print("\nA job's pickled inputs (explain_maps: spec, a 1x3x224x224 input, target, methods,")
    print("params), and the weights a model object would carry along")
    print(f"{'model':<24}{'spec':>8}{'job inputs':>14}{'its weights':>14}")
    for name, model in [("LeNet-5 (digits)", lenet), ("ResNet-18 (registry)", resnet),
                        ("fine-tuned ResNet-18", fine)]:  # fmt: skip
        spec = model.spec()
        shipped = len(pickle.dumps((spec, x, 0, ["integrated_gradients"], params)))
        with model.borrow() as weights_net:
            carried = state_bytes(weights_net)
        print(f"{name:<24}{mb(len(pickle.dumps(spec))):>8}{mb(shipped):>14}{mb(carried):>14}")

    print("\nA worker's first job of a model (resolve the spec, borrow: built or read now), then")
    print("every later one (kept)")
    for name, spec in [
        ("LeNet-5 (digits)", lenet.spec()),
        ("ResNet-18 random (registry)", resnet.spec()),
        ("fine-tuned ResNet-18 (file)", fine.spec()),
    ]:
        forget()
        cold = once(lambda s=spec: resolve_and_borrow(s))
        warm = seconds(lambda s=spec: resolve_and_borrow(s), args.repeats)
        print(f"{name:<30} first {cold * 1000:>8,.1f} ms   then {warm * 1000:>6,.2f} ms")

    print(f"\nA run's validation images ({args.images} x {args.side}x{args.side}x3 uint8)")
    pictures = np.random.default_rng(0).integers(
        0, 256, (args.images, args.side, args.side, 3), dtype=np.uint8
    )
    raw = len(pickle.dumps(pictures))
    write = once(lambda: reference_images.by_reference(pictures))
    reference = reference_images.by_reference(pictures)
    named = seconds(lambda: reference_images.by_reference(pictures), args.repeats)
    load = once(reference.load)
    print(
        f"shipped: {mb(raw)}; by reference: {mb(len(pickle.dumps(reference)))} "
        f"(store first {write * 1000:,.0f} ms, again {named * 1000:,.0f} ms: hashed; "
        f"a worker's first load {load * 1000:,.0f} ms)"
    )


if __name__ == "__main__":
    main()
