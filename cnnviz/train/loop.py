"""`finetune`: the job function the page submits and the CLI runs. A plain function of
picklable inputs that reports through `report` and returns a picklable FinetuneResult.

The page hands it the dataset by reference (cnnviz.store.DatasetRef: a content hash in the
store shared by the server's processes and job workers); the CLI and the tests hand it the
ImageDataset itself. A linear probe's features go through the same store (features_key)."""

from __future__ import annotations

import time
from collections import OrderedDict

import torch
from torch import nn

from cnnviz.data import ImageDataset, stratified_split
from cnnviz.errors import BadDataset
from cnnviz.jobs import Device, Reporter, Stopped
from cnnviz.store import DatasetRef, Store, default_store, get_dataset, release_dataset
from cnnviz.train import backbones, evaluate
from cnnviz.train.config import FinetuneConfig
from cnnviz.train.features import _autocast, features_key, linear_probe
from cnnviz.train.network_input import flip_half, preprocessing, resize_all, to_device
from cnnviz.train.result import FinetuneResult
from cnnviz.train.steps import Epochs, batches, resolve_device, stop_checks


def _check_data(data: ImageDataset) -> None:
    if len(data.classes) < 2 or torch.unique(data.labels).numel() < 2:
        raise BadDataset("A classifier needs images of at least 2 classes.")
    if data.images.dtype != torch.uint8 or data.images.ndim != 4 or data.images.shape[1] != 3:
        raise BadDataset("The dataset's images must be a uint8 N x 3 x S x S tensor.")


def _optimizer(model: nn.Module, config: FinetuneConfig) -> torch.optim.Optimizer:
    """Adam: the head at lr * head_lr_factor, every other trainable parameter at lr."""
    head_params = backbones.head_parameters(model, config.backbone_spec)
    head = {id(p) for p in head_params}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head]
    groups = [{"params": head_params, "lr": config.head_lr}]
    if body:
        groups.insert(0, {"params": body, "lr": config.lr})
    return torch.optim.Adam(groups)


def _validate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    batch_size: int,
    channels_last: bool,
    amp: bool = True,
) -> tuple[float, float, torch.Tensor]:
    """Loss, accuracy and predictions on the validation images, in eval mode."""
    model.eval()
    loss_sum, predictions = 0.0, []
    with torch.inference_mode(), _autocast(device, amp):
        for x, y in zip(images.split(batch_size), labels.split(batch_size), strict=True):
            logits = model(to_device(x, device, channels_last)).float()
            y = y.to(device, non_blocking=True)
            loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            predictions.append(logits.argmax(1).cpu())
    predicted = torch.cat(predictions)
    return loss_sum / labels.numel(), evaluate.accuracy(labels, predicted), predicted


def _train(
    model: nn.Module,
    config: FinetuneConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    train_idx: torch.Tensor,
    val_idx: torch.Tensor,
    device: torch.device,
    report: Reporter,
    tracker: Epochs,
    timings: dict[str, float],
) -> None:
    """The last-N and full fine-tune: every batch augmented (random flips), a step, a report."""
    cuda = device.type == "cuda"
    channels_last = cuda  # as finetune moved the model
    optimizer = _optimizer(model, config)
    # fp16 needs its gradients scaled; bf16 (H100, A100) has fp32's range and needs none.
    amp = cuda and config.amp
    scaler = torch.amp.GradScaler("cuda", enabled=amp and not torch.cuda.is_bf16_supported())
    generator = torch.Generator().manual_seed(config.seed)
    n_batches = len(batches(train_idx, config.batch_size))
    total = config.epochs * n_batches
    val_images, val_labels = images[val_idx], labels[val_idx]
    step = 0
    for epoch in range(config.epochs):
        message = f"Epoch {epoch + 1} of {config.epochs}"
        backbones.train_mode(model, config.backbone_spec)
        order = train_idx[torch.randperm(train_idx.numel(), generator=generator)]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        t0 = time.perf_counter()
        for b, idx in enumerate(batches(order, config.batch_size)):
            x = to_device(flip_half(images[idx], generator), device, channels_last)
            y = labels[idx].to(device, non_blocking=True)
            with _autocast(device, amp):
                logits = model(x)
                loss = nn.functional.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * idx.numel()
            correct += (logits.detach().argmax(1) == y).sum()
            step += 1
            report(
                step=step,
                total=total,
                metrics={
                    "batch": step,
                    "epoch": epoch + (b + 1) / n_batches,
                    "train_loss": float(loss.detach()),
                },
                message=message,
            )
        t1 = time.perf_counter()
        val = _validate(
            model, val_images, val_labels, device, config.batch_size, channels_last, amp
        )
        timings["train"] = timings.get("train", 0.0) + t1 - t0
        timings["validate"] = timings.get("validate", 0.0) + time.perf_counter() - t1
        n = train_idx.numel()
        tracker.finished(epoch + 1, (float(loss_sum) / n, float(correct) / n), val[:2], val[2])


def _cpu_state(model: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """The weights on the CPU, contiguous (the model may be channels_last). Where they are so
    already, the model's own tensors, not a copy: finetune drops the model as it returns, so
    they are the result's alone, or (a linear probe on the synthetic backbone) its body is the
    process's shared copy, which nothing may change in place."""
    return OrderedDict(
        (k, v.detach().to("cpu").contiguous()) for k, v in model.state_dict().items()
    )


def finetune(
    data: ImageDataset | DatasetRef,
    config: FinetuneConfig,
    *,
    report: Reporter,
    store: Store | None = None,
) -> FinetuneResult:
    """Train `config.backbone` on `data` as `config.strategy` says, reporting every batch and
    every epoch; a stop request ends it early with the model trained so far
    (stopped=True) instead of raising.

    `data` is the dataset, or a reference to it in `store` (default: the settings' store),
    which this run releases when it ends, however it ends (DatasetGone when it left the store
    before the run began). A linear probe reads its features from `store` when an equal run
    extracted them before, and leaves them there otherwise; a store that cannot be opened
    (another user's folder) only costs that reuse."""
    start = time.perf_counter()
    timings: dict[str, float] = {}
    if isinstance(data, DatasetRef):
        ref = data
        store = store or default_store()
        try:  # released at the end, not once read: a worker that dies leaves it for a retry
            loaded = get_dataset(ref, store)
            timings["dataset"] = time.perf_counter() - start
            return _finetune(loaded, config, report, store, start, timings)
        finally:
            release_dataset(ref, store)
    if store is None:
        try:
            store = default_store()
        except OSError:  # a folder this user cannot write: the run goes on without reuse
            store = None
    return _finetune(data, config, report, store, start, timings)


def _finetune(
    data: ImageDataset,
    config: FinetuneConfig,
    report: Reporter,
    store: Store | None,
    start: float,
    timings: dict[str, float],
) -> FinetuneResult:
    _check_data(data)
    device_info = resolve_device(config.device, report)
    device = torch.device(device_info.key)
    train_idx, val_idx = stratified_split(
        data.labels, config.val_fraction, config.seed, data.duplicates
    )
    t0 = time.perf_counter()
    model = backbones.build(
        config.backbone_spec,
        config.weights,
        len(data.classes),
        config.seed,
        frozen_body=config.strategy == "linear",
    )
    timings["model"] = time.perf_counter() - t0
    backbones.freeze(model, config.backbone_spec, config.strategy, config.last_blocks)
    trainable, total = backbones.count_parameters(model)
    model.to(device)
    if device.type == "cuda":  # faster convolutions on tensor cores; no gain on the CPU
        model.to(memory_format=torch.channels_last)
    tracker = Epochs(report, config.epochs)
    stopped = False
    fork = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(config.seed)  # dropout and stochastic depth draw from it
        try:
            t0 = time.perf_counter()
            images = resize_all(data.images, config.image_size)
            timings["prepare"] = time.perf_counter() - t0
            if config.strategy == "linear":
                linear_probe(
                    model,
                    config.backbone_spec,
                    images,
                    data.labels,
                    train_idx,
                    val_idx,
                    device=device,
                    epochs=config.epochs,
                    batch_size=config.batch_size,
                    lr=config.head_lr,
                    seed=config.seed,
                    report=report,
                    tracker=tracker,
                    timings=timings,
                    amp=config.amp,
                    store=store,
                    key=None if store is None else features_key(data.content_hash, config, device),
                )
            else:
                with stop_checks(model, config.backbone_spec, report):
                    _train(
                        model,
                        config,
                        images,
                        data.labels,
                        train_idx,
                        val_idx,
                        device,
                        report,
                        tracker,
                        timings,
                    )
        except Stopped:
            stopped = True
    return _result(
        data,
        config,
        device_info,
        model,
        tracker,
        val_idx,
        stopped,
        start,
        timings,
        (trainable, total),
    )


def _result(
    data: ImageDataset,
    config: FinetuneConfig,
    device_info: Device,
    model: nn.Module,
    tracker: Epochs,
    val_idx: torch.Tensor,
    stopped: bool,
    start: float,
    timings: dict[str, float],
    counts: tuple[int, int],
) -> FinetuneResult:
    model.eval()
    last = tracker.history[-1] if tracker.history else None
    predictions = tracker.val_predictions
    val_labels = data.labels[val_idx]
    scored = predictions is not None
    return FinetuneResult(
        config=config,
        device=device_info.key,
        device_name=device_info.name,
        classes=list(data.classes),
        history=tracker.history,
        train_accuracy=last["train_accuracy"] if last else None,
        val_accuracy=last["val_accuracy"] if last else None,
        per_class_accuracy=evaluate.per_class_accuracy(val_labels, predictions, data.classes)
        if scored
        else {},
        confusion=evaluate.confusion(val_labels, predictions, len(data.classes)) if scored else [],
        val_indices=val_idx.tolist(),
        val_predictions=predictions.tolist() if scored else [],
        seconds=time.perf_counter() - start,
        stopped=stopped,
        state_dict=_cpu_state(model),
        preprocessing=preprocessing(config.image_size),
        timings=timings,
        trainable_parameters=counts[0],
        total_parameters=counts[1],
    )
