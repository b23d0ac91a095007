"""Benchmark: transfer learning (issue 8's Performance section), side by side in one run.

1. Linear probe, 10 epochs on 500 images at 224 with resnet18: one feature-extraction pass,
   the app's run on cached features, and the naive loop (backbone forward every batch of every
   epoch), each as a multiple of the one pass. Target: cached < 1.3x, naive about 10x.
2. Full fine-tune: the app's loop (as a job of cnnviz.jobs, reporting every batch, a "page"
   thread polling progress() twice a second, stop checks in every block) vs a bare PyTorch loop
   on the same tensors: training images per second. Target: app/bare >= 0.9.
3. Upload to first validation accuracy: a zip of 200 photos (640x480 JPEGs), linear probe,
   resnet18 at 224; the seconds and where they go (unzip, decode, features, head).
   Target: under 10 s on 2 CPU cores.
4. On CUDA (--device cuda, or by default when there is a GPU): the same, and 2. with AMP vs
   fp32.

Without the ImageNet file in the torch cache, the backbone has random weights of the same
architecture (the time does not depend on the values). Prints figures; asserts nothing.

    python bench/finetune.py [--device cpu|cuda] [--repeats 1]
    python bench/finetune.py --quick      # small sizes: a smoke test of the script (~1 min)
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from cnnviz.data import DatasetLimits, ImageDataset, load_dataset, stratified_split  # noqa: E402
from cnnviz.data.archive import extract_zip  # noqa: E402
from cnnviz.jobs import JobRunner, JobSettings, devices  # noqa: E402
from cnnviz.store import Store  # noqa: E402
from cnnviz.train import FinetuneConfig, backbone_weights_status, finetune  # noqa: E402
from cnnviz.train.backbones import build, freeze, spec  # noqa: E402
from cnnviz.train.features import extract, linear_probe, without_head  # noqa: E402
from cnnviz.train.network_input import to_device  # noqa: E402
from cnnviz.train.steps import Epochs, batches  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    probe_images: int = 500
    probe_epochs: int = 10
    loop_images: int = 160
    loop_epochs: int = 1
    upload_images: int = 200
    side: int = 224
    batch: int = 32


QUICK = Sizes(probe_images=40, probe_epochs=10, loop_images=24, upload_images=20, side=64, batch=8)


class Quiet:
    """A `report` that only records (the CLI's tqdm bars would cost time of their own)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.stop_requested = False
        self.first_epoch_at: float | None = None

    def __call__(self, **kw: Any) -> None:
        metrics = kw.get("metrics")
        if self.first_epoch_at is None and metrics and "val_accuracy" in metrics:
            self.first_epoch_at = time.perf_counter()


def random_dataset(n: int, side: int, classes: int = 5, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(
        images=torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=g),
        labels=torch.arange(n) % classes,
        classes=[f"class{k}" for k in range(classes)],
    )


_STORES = tempfile.TemporaryDirectory(prefix="cnnviz-bench-stores-")  # removed at exit


def empty_store() -> Store:
    """A store of its own for one run: every run here extracts its features (a second run on
    the same data would read them from the store: bench/feature_cache.py measures that)."""
    return Store(tempfile.mkdtemp(dir=_STORES.name), 2048 * 2**20)


def weights_kind() -> str:
    return "imagenet" if backbone_weights_status(spec("resnet18"))[0] else "none"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --- 1. cached vs naive linear probe ------------------------------------------------------
def probe_section(sizes: Sizes, device: torch.device, repeats: int) -> None:
    data = random_dataset(sizes.probe_images, sizes.side)
    weights = weights_kind()
    model = build(spec("resnet18"), weights, len(data.classes)).to(device)
    freeze(model, spec("resnet18"), "linear")
    with without_head(model, spec("resnet18")) as body:
        extract(body, data.images[: sizes.batch], device, sizes.batch)  # warm-up
        one_pass = median_time(lambda: extract(body, data.images, device, sizes.batch), repeats)
    config = FinetuneConfig(
        weights=weights, strategy="linear", epochs=sizes.probe_epochs, image_size=sizes.side,
        batch_size=sizes.batch, device=device.type,
    )  # fmt: skip
    cached = median_time(
        lambda: finetune(data, config, report=Quiet(device.type), store=empty_store()), repeats
    )

    def naive() -> None:
        fresh = build(spec("resnet18"), weights, len(data.classes)).to(device)
        freeze(fresh, spec("resnet18"), "linear")
        train, val = stratified_split(data.labels, config.val_fraction, config.seed)
        linear_probe(
            fresh, spec("resnet18"), data.images, data.labels, train, val, device=device,
            epochs=config.epochs, batch_size=config.batch_size, lr=config.head_lr,
            seed=config.seed, report=Quiet(device.type), tracker=Epochs(Quiet(device.type), 1),
            cached=False,
        )  # fmt: skip

    naive_s = median_time(naive, repeats)
    print(
        f"\n1. linear probe, {sizes.probe_epochs} epochs, {sizes.probe_images} images at "
        f"{sizes.side}, resnet18 ({weights} weights), {device.type}"
    )
    print(f"   {'':<34} {'seconds':>8} {'x one pass':>10}")
    for name, s in [
        ("one feature-extraction pass", one_pass),
        ("cached features (the app)", cached),
        ("naive: backbone every epoch", naive_s),
    ]:
        print(f"   {name:<34} {s:>8.2f} {s / one_pass:>10.2f}")
    print("   target: cached < 1.3x one pass (naive about 10x)")


# --- 2. the app's fine-tune loop vs a bare PyTorch loop ------------------------------------
def bare_loop(data: ImageDataset, config: FinetuneConfig, device: torch.device) -> float:
    """Training images per second of the plainest loop on the same tensors and batches."""
    model = build(config.backbone_spec, config.weights, len(data.classes), config.seed).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    model.train()
    head = list(model.fc.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
    optimizer = torch.optim.Adam(
        [{"params": body, "lr": config.lr}, {"params": head, "lr": config.head_lr}]
    )
    amp = cuda and config.amp
    scaler = torch.amp.GradScaler("cuda", enabled=amp and not torch.cuda.is_bf16_supported())
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    train, _ = stratified_split(data.labels, config.val_fraction, config.seed)
    g = torch.Generator().manual_seed(0)
    seen = 0
    t0 = time.perf_counter()
    for _ in range(config.epochs):
        for idx in batches(train[torch.randperm(train.numel(), generator=g)], config.batch_size):
            x = to_device(data.images[idx], device, cuda)
            y = data.labels[idx].to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=dtype, enabled=amp):
                loss = nn.functional.cross_entropy(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            seen += idx.numel()
    if cuda:
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def app_loop(data: ImageDataset, config: FinetuneConfig, device: torch.device) -> float:
    """Training images per second of `finetune` as a job, a page thread polling its progress."""
    # The job on as many torch threads as the bare loop: this compares the loops, not the
    # classroom's thread setting (JobSettings.cpu_threads, half the cores by default).
    runner = JobRunner(JobSettings(cpu_threads=torch.get_num_threads()))
    handle = runner.submit(finetune, data, config, session="bench", device=device.type)
    polls = 0

    def page() -> None:
        nonlocal polls
        while not handle.done(timeout=0.5):
            handle.progress()
            polls += 1

    poller = threading.Thread(target=page)
    poller.start()
    result = handle.result()
    poller.join()
    train, _ = stratified_split(data.labels, config.val_fraction, config.seed)
    return train.numel() * config.epochs / result.timings["train"]


def in_thread(fn: Callable[..., float]) -> float:
    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join()
    return out[0]


def loop_section(sizes: Sizes, device: torch.device, repeats: int) -> None:
    data = random_dataset(sizes.loop_images, sizes.side)
    weights = weights_kind()
    modes = [True, False] if device.type == "cuda" else [True]
    print(
        f"\n2. full fine-tune, {sizes.loop_images} images at {sizes.side}, batch {sizes.batch}, "
        f"resnet18, {device.type}: training images/s (median of {repeats}, alternating)"
    )
    print(f"   {'':<10} {'bare':>8} {'app':>8} {'app/bare':>9}")
    for amp in modes:
        config = FinetuneConfig(
            weights=weights, strategy="full", epochs=sizes.loop_epochs, image_size=sizes.side,
            batch_size=sizes.batch, device=device.type, amp=amp,
        )  # fmt: skip
        warm = random_dataset(2 * sizes.batch, sizes.side)
        in_thread(lambda c=config, w=warm: bare_loop(w, c, device))
        bare, app = [], []
        for _ in range(repeats):  # the bare loop in a thread too: the same OpenMP context
            bare.append(in_thread(lambda c=config: bare_loop(data, c, device)))
            app.append(app_loop(data, config, device))
        b, a = statistics.median(bare), statistics.median(app)
        label = ("AMP" if amp else "fp32") if device.type == "cuda" else "fp32"
        print(f"   {label:<10} {b:>8.1f} {a:>8.1f} {a / b:>9.2f}")
    print("   target: app/bare >= 0.9")


# --- 3. upload to first validation accuracy ------------------------------------------------
def _bench_data_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_data", REPO / "bench" / "data.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def upload_section(sizes: Sizes, device: torch.device) -> None:
    archive = _bench_data_module().build_zip(sizes.upload_images, 640, 480, "JPEG")
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        extract_zip(io.BytesIO(archive), Path(folder), DatasetLimits())
        unzip = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = load_dataset(archive, size=sizes.side)  # unzip + decode + resize
    loaded = time.perf_counter()
    config = FinetuneConfig(
        weights=weights_kind(), strategy="linear", epochs=10, image_size=sizes.side,
        batch_size=sizes.batch, device=device.type,
    )  # fmt: skip
    report = Quiet(device.type)
    result = finetune(data, config, report=report, store=empty_store())
    first = (report.first_epoch_at or time.perf_counter()) - t0
    head_one_epoch = result.timings["head"] / config.epochs
    print(
        f"\n3. upload to first validation accuracy: {sizes.upload_images} JPEGs 640x480 "
        f"({len(archive) / 1e6:.1f} MB zip), linear probe, resnet18 at {sizes.side}, "
        f"{device.type}, {torch.get_num_threads()} threads"
    )
    parts = [
        ("unzip", unzip),
        ("decode + resize", loaded - t0 - unzip),
        ("model build + split", first - (loaded - t0) - result.timings["features"]
         - head_one_epoch),
        ("features", result.timings["features"]),
        ("head, first epoch", head_one_epoch),
    ]  # fmt: skip
    for name, s in parts:
        print(f"   {name:<22} {s:>7.2f} s")
    print(f"   {'total':<22} {first:>7.2f} s   (target: under 10 s on 2 CPU cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the GPU if any)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--sections", default="1,2,3", help="which sections, e.g. 1,3")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    device = torch.device(devices.resolve(args.device).key)
    print(
        f"device {devices.resolve(args.device)}; torch threads {torch.get_num_threads()}; "
        f"resnet18 weights: {weights_kind()}"
    )
    sections = {s.strip() for s in args.sections.split(",")}
    if "1" in sections:
        probe_section(sizes, device, args.repeats)
    if "2" in sections:
        loop_section(sizes, device, max(args.repeats, 1))
    if "3" in sections:
        upload_section(sizes, device)


if __name__ == "__main__":
    main()
