"""Before a run: its device, how long it will take (from a short timing probe) and how many
parameters it trains."""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.analysis import analyze_module
from cnnviz.data import ImageDataset, stratified_split
from cnnviz.store import Store
from cnnviz.train import backbones
from cnnviz.train.config import FinetuneConfig
from cnnviz.train.features import _autocast, features_key, without_head
from cnnviz.train.network_input import to_device
from cnnviz.train.steps import batches, resolve_device

# Images per probe batch: enough for a per-image time, few enough that the probe of VGG-16 at
# 224 on 2 CPU cores stays at a few seconds. Two batches: the first pays one-time costs (oneDNN
# kernel selection, CUDA context), the second is timed.
PROBE_IMAGES = 4
# A forward pass is about a third of a training step (forward + backward).
FORWARD_SHARE = 1 / 3
# Timings kept per process, one per choice that changes them (the least recently used go): a
# class opening the page with the same backbone, strategy and image size costs one probe.
MAX_TIMINGS = 64


@dataclass(frozen=True)
class Estimate:
    device: str  # "cpu", "cuda:0"
    device_name: str
    seconds: float
    trainable_parameters: int
    total_parameters: int
    # A linear probe whose features another run already put in the store: no extraction,
    # `seconds` is then the model's build (cnnviz.train.features' cache).
    features_stored: bool = False


def _timed(fn: object, repeats: int = 2) -> float:
    took = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        took = time.perf_counter() - t0
    return took


def _forward_seconds(
    model: nn.Module, backbone: backbones.BackboneSpec, x: torch.Tensor, device: torch.device
) -> float:
    model.eval()
    with without_head(model, backbone) as body, torch.no_grad(), _autocast(device):
        return _timed(lambda: body(x))


def _step_seconds(
    model: nn.Module, backbone: backbones.BackboneSpec, x: torch.Tensor, device: torch.device
) -> float:
    backbones.train_mode(model, backbone)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.0)
    y = torch.zeros(x.shape[0], dtype=torch.long, device=device)

    def step() -> None:
        with _autocast(device):
            loss = nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return _timed(step)


@dataclass(frozen=True)
class _Timing:
    built: float  # seconds to build the model: the estimate once its features are stored
    per_image: float  # seconds per image: a forward pass (linear probe) or a training step


_timings: OrderedDict[tuple, _Timing] = OrderedDict()
_timings_lock = threading.Lock()


def _timing_key(config: FinetuneConfig, n_classes: int, n_probe: int, device: torch.device):
    """What the probe's time depends on (not the weights' values, the seed or the rates)."""
    blocks = config.last_blocks if config.strategy == "last" else None
    return (
        config.backbone, config.strategy, blocks, config.image_size, n_probe, n_classes,
        str(device), config.amp, torch.get_num_threads(),
    )  # fmt: skip


def _time_probe(
    config: FinetuneConfig, n_classes: int, n_probe: int, device: torch.device
) -> _Timing:
    """Build the model with random weights and time a probe batch on `device`: once per
    process for each `_timing_key`, then remembered."""
    key = _timing_key(config, n_classes, n_probe, device)
    with _timings_lock:
        known = _timings.get(key)
        if known is not None:
            _timings.move_to_end(key)
            return known
    t0 = time.perf_counter()
    model = backbones.build(config.backbone_spec, "none", n_classes, config.seed)
    built = time.perf_counter() - t0
    backbones.freeze(model, config.backbone_spec, config.strategy, config.last_blocks)
    model.to(device)
    side = config.image_size
    probe = torch.randint(0, 256, (n_probe, 3, side, side), dtype=torch.uint8)
    x = to_device(probe, device)
    timed = _forward_seconds if config.strategy == "linear" else _step_seconds
    timing = _Timing(built, timed(model, config.backbone_spec, x, device) / n_probe)
    with _timings_lock:
        _timings[key] = timing
        while len(_timings) > MAX_TIMINGS:
            _timings.popitem(last=False)
    return timing


def _features_stored(
    store: Store | None, data: ImageDataset, config: FinetuneConfig, device: torch.device
) -> bool:
    if store is None:
        return False
    try:
        return store.has(features_key(data.content_hash, config, device))
    except OSError:  # a store folder this process cannot read: as if empty
        return False


def parameter_counts(config: FinetuneConfig, n_classes: int) -> tuple[int, int]:
    """(trainable, total) parameters of the configured model, from the analysis engine (the
    layer tables' counts: torchinfo on the meta device, where nothing is allocated); counted
    once per process for each backbone, strategy, image size and number of classes."""
    blocks = config.last_blocks if config.strategy == "last" else 1
    return _parameter_counts(
        config.backbone_spec, config.strategy, blocks, config.image_size, n_classes
    )


@functools.lru_cache(maxsize=MAX_TIMINGS)
def _parameter_counts(
    backbone: backbones.BackboneSpec, strategy: str, last_blocks: int, side: int, n_classes: int
) -> tuple[int, int]:
    model = backbones.empty(backbone, n_classes)
    backbones.freeze(model, backbone, strategy, last_blocks)
    analysis = analyze_module(model, (3, side, side), backbone.name)
    return analysis.trainable_params, analysis.total_params


def estimate(data: ImageDataset, config: FinetuneConfig, store: Store | None = None) -> Estimate:
    """Device, estimated seconds and (trainable, total) parameters of `finetune(data, config)`.

    The probe runs the architecture with random weights (the time does not depend on their
    values, and a missing weights file must not stop the estimate), once per process for
    each choice its time depends on (`_timing_key`). A linear probe whose features are in
    `store` costs no extraction: its estimate is the model's build.
    """
    device_info = resolve_device(config.device, None)
    device = torch.device(device_info.key)
    trainable, total = parameter_counts(config, len(data.classes))
    train_idx, val_idx = stratified_split(
        data.labels, config.val_fraction, config.seed, data.duplicates
    )
    n_probe = max(2, min(PROBE_IMAGES, config.batch_size, train_idx.numel()))
    timing = _time_probe(config, len(data.classes), n_probe, device)
    if config.strategy == "linear" and _features_stored(store, data, config, device):
        return Estimate(device_info.key, device_info.name, timing.built, trainable, total, True)
    if config.strategy == "linear":
        seconds = timing.per_image * len(data)  # the head's epochs on cached features: ms
    else:
        n_train = sum(b.numel() for b in batches(train_idx, config.batch_size))
        epoch = timing.per_image * (n_train + FORWARD_SHARE * val_idx.numel())
        seconds = epoch * config.epochs
    return Estimate(
        device=device_info.key,
        device_name=device_info.name,
        seconds=seconds,
        trainable_parameters=trainable,
        total_parameters=total,
    )
