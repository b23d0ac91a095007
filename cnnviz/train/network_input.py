"""The network's input in training: from the dataset's uint8 tensor, batch by batch, resized
once per run, then moved as bytes (4 times less than floats) and normalized on the device.
(The number inputs of the pages are `cnnviz.ui.inputs`, another thing.)"""

from __future__ import annotations

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from cnnviz.data import normalize
from cnnviz.images import IMAGENET_MEAN, IMAGENET_STD

# Resizing a whole classroom dataset at once would hold it twice as floats: chunks of this many.
_RESIZE_CHUNK = 256


def preprocessing(image_size: int) -> dict[str, object]:
    """What a trained model expects, saved with it: square images of this side, normalized."""
    return {"image_size": image_size, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


def resize_all(images: torch.Tensor, size: int) -> torch.Tensor:
    """N x 3 x S x S uint8 at size x size (antialiased), once for the whole run."""
    if images.shape[-2:] == (size, size):
        return images
    resize = v2.Resize([size, size], antialias=True)
    return torch.cat([resize(chunk) for chunk in images.split(_RESIZE_CHUNK)])


def flip_half(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2 (its own coin: a v2 transform on a
    batch would flip all of them or none)."""
    coins = torch.rand(batch.shape[0], generator=generator) < 0.5
    if not coins.any():
        return batch
    out = batch.clone()
    out[coins] = F.horizontal_flip(batch[coins])
    return out


def to_device(
    batch: torch.Tensor, device: torch.device, channels_last: bool = False
) -> torch.Tensor:
    """A uint8 CPU batch as the normalized float input on `device`: on CUDA through pinned
    memory with a non-blocking copy, and channels_last when the model is."""
    if device.type == "cuda":
        batch = batch.pin_memory().to(device, non_blocking=True)
    x = normalize(batch)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
