"""The linear probe: every layer frozen, a new linear head trained on the backbone's features.

Frozen layers compute the same features every epoch, so they are extracted once (eval mode,
no autograd, batched) and the head trains on the cached N x F matrix: many epochs in a second.
`cached=False` is the naive loop, the backbone's forward every batch of every epoch, kept for
the benchmark and as the second method of the tests; both train the same head.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from cnnviz.jobs import Reporter
from cnnviz.train import backbones
from cnnviz.train.network_input import to_device
from cnnviz.train.steps import Epochs, batches, loss_and_accuracy, stop_checks


@contextlib.contextmanager
def without_head(model: nn.Module, backbone: backbones.BackboneSpec) -> Iterator[nn.Module]:
    """The model with its head swapped for an identity: it outputs the head's inputs."""
    path = backbone.head
    parent_path, _, child = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    head = getattr(parent, child)
    setattr(parent, child, nn.Identity())
    try:
        yield model
    finally:
        setattr(parent, child, head)


def extract(
    body: nn.Module,
    images: torch.Tensor,
    device: torch.device,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    channels_last: bool = False,
    amp: bool = True,
) -> torch.Tensor:
    """body(images) in eval mode, batch by batch, as one float32 N x F tensor on `device`;
    progress(images done) after every batch."""
    was_training = body.training
    body.eval()
    out = []
    done = 0
    try:
        # no_grad, not inference_mode: the head trains on these features (autograd saves them).
        with torch.no_grad(), _autocast(device, amp):
            for chunk in images.split(batch_size):
                out.append(body(to_device(chunk, device, channels_last)).float())
                done += chunk.shape[0]
                if progress is not None:
                    progress(done)
    finally:
        body.train(was_training)
    return torch.cat(out)


def _autocast(device: torch.device, amp: bool = True) -> contextlib.AbstractContextManager[object]:
    """Mixed precision on CUDA (bf16 where the GPU has it: fp32's range, no gradient scaling);
    nothing on the CPU."""
    if device.type != "cuda" or not amp:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def train_head(
    head: nn.Linear,
    features_of: Callable[[torch.Tensor], torch.Tensor],
    labels: torch.Tensor,
    train_idx: torch.Tensor,
    val_idx: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    tracker: Epochs,
) -> None:
    """Adam on the head alone; features_of(indices) gives the features of those images."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    device = head.weight.device
    labels = labels.to(device)
    for epoch in range(epochs):
        head.train()
        order = train_idx[torch.randperm(train_idx.numel(), generator=generator)]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for idx in batches(order, batch_size):
            logits = head(features_of(idx))
            y = labels[idx.to(device)]
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * idx.numel()
            correct += (logits.detach().argmax(1) == y).sum()
        head.eval()
        with torch.inference_mode():  # cached: an index; naive: the backbone again
            val = loss_and_accuracy(head(features_of(val_idx)), labels[val_idx.to(device)])
        n = train_idx.numel()
        train = (float(loss_sum) / n, float(correct) / n)
        tracker.finished(epoch + 1, train, val[:2], val[2])
        tracker.report(
            step=epoch + 1,
            total=epochs,
            message=f"Training the head: epoch {epoch + 1} of {epochs}",
        )


def linear_probe(
    model: nn.Module,
    backbone: backbones.BackboneSpec,
    images: torch.Tensor,
    labels: torch.Tensor,
    train_idx: torch.Tensor,
    val_idx: torch.Tensor,
    *,
    device: torch.device,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    report: Reporter,
    tracker: Epochs,
    cached: bool = True,
    timings: dict[str, float] | None = None,
    amp: bool = True,
) -> None:
    """Train `model`'s head on its frozen features (cached: extracted once, with progress
    "Extracting features" over the images; naive: recomputed every batch)."""
    import time

    timings = timings if timings is not None else {}
    head = backbones.head_of(model, backbone)
    n = images.shape[0]
    cuda = device.type == "cuda"  # finetune made the model channels_last there: the inputs too
    with without_head(model, backbone) as body, stop_checks(body, backbone, report):
        if cached:
            report(step=0, total=n, message="Extracting features")
            t0 = time.perf_counter()
            cache = extract(
                body,
                images,
                device,
                batch_size,
                lambda done: report(step=done, total=n, message="Extracting features"),
                channels_last=cuda,
                amp=amp,
            )
            timings["features"] = time.perf_counter() - t0

            def features_of(idx: torch.Tensor) -> torch.Tensor:
                return cache[idx.to(cache.device)]
        else:

            def features_of(idx: torch.Tensor) -> torch.Tensor:
                return extract(body, images[idx], device, batch_size, channels_last=cuda, amp=amp)

        t0 = time.perf_counter()
        train_head(
            head,
            features_of,
            labels,
            train_idx,
            val_idx,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            tracker=tracker,
        )
        timings["head"] = time.perf_counter() - t0
