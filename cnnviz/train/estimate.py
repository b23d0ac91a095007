"""Before a run: its device, how long it will take (from a short timing probe) and how many
parameters it trains."""

from __future__ import annotations

import time
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
    layer tables' counts: torchinfo on the meta device, where nothing is allocated)."""
    model = backbones.empty(config.backbone_spec, n_classes)
    backbones.freeze(model, config.backbone_spec, config.strategy, config.last_blocks)
    side = config.image_size
    analysis = analyze_module(model, (3, side, side), config.backbone)
    return analysis.trainable_params, analysis.total_params


def estimate(data: ImageDataset, config: FinetuneConfig, store: Store | None = None) -> Estimate:
    """Device, estimated seconds and (trainable, total) parameters of `finetune(data, config)`.

    The probe runs the architecture with random weights (the time does not depend on their
    values, and a missing weights file must not stop the estimate). A linear probe whose
    features are in `store` costs no extraction: its estimate is the model's build.
    """
    device_info = resolve_device(config.device, None)
    device = torch.device(device_info.key)
    trainable, total = parameter_counts(config, len(data.classes))
    t0 = time.perf_counter()
    model = backbones.build(config.backbone_spec, "none", len(data.classes), config.seed)
    built = time.perf_counter() - t0
    if config.strategy == "linear" and _features_stored(store, data, config, device):
        return Estimate(device_info.key, device_info.name, built, trainable, total, True)
    backbones.freeze(model, config.backbone_spec, config.strategy, config.last_blocks)
    model.to(device)
    train_idx, val_idx = stratified_split(
        data.labels, config.val_fraction, config.seed, data.duplicates
    )
    n_probe = max(2, min(PROBE_IMAGES, config.batch_size, train_idx.numel()))
    side = config.image_size
    probe = torch.randint(0, 256, (n_probe, 3, side, side), dtype=torch.uint8)
    x = to_device(probe, device)
    if config.strategy == "linear":
        per_image = _forward_seconds(model, config.backbone_spec, x, device) / n_probe
        seconds = per_image * len(data)  # the head's epochs on cached features: milliseconds
    else:
        per_image = _step_seconds(model, config.backbone_spec, x, device) / n_probe
        n_train = sum(b.numel() for b in batches(train_idx, config.batch_size))
        epoch = per_image * (n_train + FORWARD_SHARE * val_idx.numel())
        seconds = epoch * config.epochs
    return Estimate(
        device=device_info.key,
        device_name=device_info.name,
        seconds=seconds,
        trainable_parameters=trainable,
        total_parameters=total,
    )
