"""The linear probe: every layer frozen, a new linear head trained on the backbone's features.

Frozen layers compute the same features every epoch, so they are extracted once (eval mode,
no autograd, batched) and the head trains on the cached N x F matrix: many epochs in a second.
`cached=False` is the naive loop, the backbone's forward every batch of every epoch, kept for
the benchmark and as the second method of the tests; both train the same head.

Extracted features are also kept in the store shared by the server's processes
(cnnviz.store) under `features_key`: the SHA-256 of everything that decides their values
(the dataset's content hash, the backbone, its weights' identity, the image size, the
preprocessing, the device type and precision, torch's version). A class linear-probing the
same built-in dataset with the same backbone extracts once; the others read N x F floats.
A key differing in any part is another entry: nothing is shared between differing inputs.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch
from torch import nn

from cnnviz.jobs import Reporter
from cnnviz.store import Store, key_of
from cnnviz.train import backbones
from cnnviz.train.network_input import preprocessing, to_device
from cnnviz.train.steps import Epochs, batches, loss_and_accuracy, stop_checks

if TYPE_CHECKING:
    from cnnviz.train.config import FinetuneConfig

REUSED = "Features reused: this dataset went through this backbone before"


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


def _precision(device: torch.device, amp: bool) -> str:
    """The dtype the body computes in (what _autocast picks)."""
    if device.type != "cuda" or not amp:
        return "float32"
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def features_key(data_hash: str, config: FinetuneConfig, device: torch.device) -> str:
    """The store key of the features `finetune(data, config)` extracts on `device` for the
    dataset whose content hash is `data_hash`: every part that changes their values, and
    only those (not the seed, epochs or learning rate, which act on the head alone, unless the
    body's weights are drawn from the seed)."""
    return key_of(
        {
            "kind": "linear-probe-features",
            "format": 1,
            "dataset": data_hash,
            "backbone": config.backbone,
            "weights": backbones.weights_identity(
                config.backbone_spec, config.weights, config.seed
            ),
            "image_size": config.image_size,
            # resize_all (antialiased bilinear) to image_size, then to_device: uint8 / 255,
            # ImageNet's mean and std, the body in eval mode without its head.
            "preprocessing": {**preprocessing(config.image_size), "resize": "bilinear-antialias"},
            "device": device.type,
            "precision": _precision(device, config.amp),
            "channels_last": device.type == "cuda",
            "torch": torch.__version__,
        }
    )


def _stored_features(store: Store, key: str, n: int, width: int) -> torch.Tensor | None:
    """The N x F float32 features under `key`, or None (absent, or not N x F)."""
    try:
        payload = store.get(key)
    except OSError:  # the store's folder unreadable: extract as without it
        return None
    if payload is None:
        return None
    try:
        features = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception:  # unreadable: a miss, rewritten after this extraction
        return None
    ok = isinstance(features, torch.Tensor) and features.dtype == torch.float32
    return features if ok and tuple(features.shape) == (n, width) else None


def _store_features(store: Store, key: str, features: torch.Tensor) -> None:
    """Keep the features for the next run; a store that cannot take them (disk full, no
    permission) costs the next run an extraction, never this run."""
    buffer = io.BytesIO()
    torch.save(features.detach().cpu().contiguous(), buffer)
    with contextlib.suppress(OSError):
        store.put(key, buffer.getvalue())


WAITING = "Waiting for another run that extracts the same features"


def _claim(stack: contextlib.ExitStack, store: Store, key: str, report: Reporter) -> bool:
    """Hold the features' key while this run extracts them (another run of the same data,
    backbone and weights waits, then reads them: a class clicking Train at once extracts once);
    whether the store took the claim (a folder it cannot lock only costs the sharing)."""
    try:
        stack.enter_context(store.claim(key, waiting=lambda: report(message=WAITING)))
    except OSError:
        return False
    return True


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
    # Fused: one kernel per step for both tensors; the step's Python overhead is most of a
    # reused probe's time.
    optimizer = torch.optim.Adam(head.parameters(), lr=lr, fused=True)
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
    store: Store | None = None,
    key: str | None = None,
) -> None:
    """Train `model`'s head on its frozen features (cached: extracted once, with progress
    "Extracting features" over the images; naive: recomputed every batch).

    With a `store` and the features' `key` (features_key), cached features are first looked
    up there (timings["features_from_store"]: the seconds it took) and stored after an
    extraction (timings["features"])."""
    import time

    timings = timings if timings is not None else {}
    head = backbones.head_of(model, backbone)
    n = images.shape[0]
    cuda = device.type == "cuda"  # finetune made the model channels_last there: the inputs too
    with without_head(model, backbone) as body, stop_checks(body, backbone, report):
        if cached:
            t0 = time.perf_counter()
            found = None
            with contextlib.ExitStack() as claimed:
                if store is not None and key is not None:
                    found = _stored_features(store, key, n, head.in_features)
                    if found is None and _claim(claimed, store, key, report):
                        # another run extracted them meanwhile: theirs, not a second pass
                        found = _stored_features(store, key, n, head.in_features)
                if found is not None:
                    cache = found.to(device)
                    timings["features_from_store"] = time.perf_counter() - t0
                    report(step=n, total=n, message=REUSED)
                else:
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
                    if store is not None and key is not None:
                        _store_features(store, key, cache)

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
