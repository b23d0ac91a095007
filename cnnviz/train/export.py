"""A trained model as one file: its state dict, class names, backbone name and preprocessing,
and how it was trained (strategy, last_blocks, weights, epochs, seed, val_accuracy,
train_accuracy: files saved before these keys still load), written with torch.save
(`cnnviz.train.result.save_trained`, from a run's result) and read back here with
torch.load(weights_only=True) only (tensors and plain containers; never code a file
brings along).

The file needs no cnnviz to load (the page shows this snippet with the real names):

    import torch, torchvision
    saved = torch.load("model.pt", weights_only=True)
    model = torchvision.models.get_model(saved["backbone"], num_classes=len(saved["classes"]))
    model.load_state_dict(saved["state_dict"]).eval()
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import nn
from torchvision.transforms.v2 import functional as F

from cnnviz.data import limits
from cnnviz.data.weights_file import is_torch_file
from cnnviz.errors import BadWeightsFile
from cnnviz.images import fit
from cnnviz.train import backbones
from cnnviz.train.network_input import resize_all

FORMAT = "cnnviz-trained-model/1"
HINT = "Use a .pt file saved by `finetune --out` or downloaded from the transfer-learning page."
Target = str | os.PathLike[str] | IO[bytes]


@dataclass
class TrainedModel:
    """A trained classifier, in eval mode on the CPU, and what its inputs must look like."""

    model: nn.Module
    classes: list[str]
    backbone: str
    image_size: int
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    # How it was trained: "linear", "last" or "full"; the weights it started from ("imagenet",
    # "none", ... or a file's name); its validation accuracy. None in files saved before these.
    strategy: str | None = None
    weights: str | None = None
    val_accuracy: float | None = None

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """A uint8 B x 3 x H x W batch as the model's float input (resized, normalized)."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError("images must be a uint8 B x 3 x H x W tensor")
        x = resize_all(images, self.image_size)
        return F.normalize(F.to_dtype(x, torch.float32, scale=True), self.mean, self.std)

    def image_tensor(self, image: np.ndarray) -> torch.Tensor:
        """An H x W x 3 uint8 picture (cnnviz.images.decode_upload) as the 3 x S x S uint8
        tensor the model was trained on: center-cropped square (as the dataset's images
        were), resized to S. Stack several for predict()."""
        square = fit(image, self.image_size, self.image_size)
        return torch.from_numpy(np.array(square, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def snippet(path: str = "model.pt") -> str:
    """Python that loads a saved model without cnnviz (for the download button)."""
    return (
        "import torch, torchvision\n\n"
        f'saved = torch.load("{path}", weights_only=True)\n'
        'model = torchvision.models.get_model(saved["backbone"], '
        'num_classes=len(saved["classes"]))\n'
        'model.load_state_dict(saved["state_dict"])\n'
        "model.eval()\n"
        '# inputs: RGB, resized to saved["preprocessing"]["image_size"] square, scaled to [0, 1],\n'
        '# normalized with saved["preprocessing"]["mean"] and ["std"]; classes: saved["classes"]\n'
        '# how it was trained: saved["strategy"], saved["weights"], saved["val_accuracy"]\n'
    )


def weights_name(weights: str) -> str:
    """The config's weights as a file records them: "imagenet", "none" (any named choice) as
    they are, a state-dict path as its file name only (never a server's folder)."""
    return re.split(r"[\\/]", weights.rstrip("\\/"))[-1] or weights


def assemble(
    backbone: backbones.BackboneSpec,
    classes: list[str],
    preprocessing: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    **about: Any,
) -> TrainedModel:
    """A TrainedModel from its parts (built on the meta device, then given the tensors);
    `about`: strategy, weights, val_accuracy."""
    model = backbones.empty(backbone, len(classes))
    try:
        model.load_state_dict(dict(state_dict), strict=True, assign=True)
    except RuntimeError:
        raise BadWeightsFile(
            f"The weights in this file do not fit {backbone.name} with {len(classes)} classes.",
            HINT,
        ) from None
    return TrainedModel(
        model=model.eval(),
        classes=list(classes),
        backbone=backbone.name,
        image_size=int(preprocessing["image_size"]),
        mean=[float(v) for v in preprocessing["mean"]],
        std=[float(v) for v in preprocessing["std"]],
        **about,
    )


def _read(source: Target) -> object:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise BadWeightsFile(f"There is no model file {str(path)!r}.", HINT)
        if path.stat().st_size > limits.WEIGHTS_FILE_BYTES.high:
            raise BadWeightsFile("This model file is larger than any model the app saves.", HINT)
    if not is_torch_file(source):  # checked before unpickling: random bytes are no model
        raise BadWeightsFile("This file is not a model saved by this app.", HINT)
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise BadWeightsFile(
            "This file holds Python objects besides weights, which are not loaded for safety.",
            HINT,
        ) from None
    except Exception:  # arbitrary bytes fail anywhere in the unpickler
        raise BadWeightsFile("This file is not a model saved by this app.", HINT) from None


def load_trained(source: Target | bytes) -> TrainedModel:
    """The model saved by save_trained; BadWeightsFile for any other file."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    saved = _read(source)
    keys = ("backbone", "classes", "preprocessing", "state_dict")
    if (
        not isinstance(saved, dict)
        or saved.get("format") != FORMAT
        or any(k not in saved for k in keys)
    ):
        raise BadWeightsFile(
            "This file is not a model saved by this app (no backbone, classes and weights).",
            HINT,
        )
    backbone = backbones.spec(saved["backbone"])  # a file names its backbone: resolved here
    about = {k: saved.get(k) for k in ("strategy", "weights")}
    accuracy = saved.get("val_accuracy")
    return assemble(
        backbone,
        saved["classes"],
        saved["preprocessing"],
        saved["state_dict"],
        strategy=about["strategy"] if isinstance(about["strategy"], str) else None,
        weights=about["weights"] if isinstance(about["weights"], str) else None,
        val_accuracy=float(accuracy) if isinstance(accuracy, (int, float)) else None,
    )


def predict(
    trained: TrainedModel, images: torch.Tensor, top: int = 5
) -> list[list[tuple[str, float]]]:
    """For each uint8 image (N x 3 x H x W), the `top` most probable classes, most first."""
    k = max(1, min(int(top), len(trained.classes)))
    with torch.inference_mode():
        probabilities = torch.softmax(trained.model(trained.preprocess(images)).float(), dim=1)
        values, indices = probabilities.topk(k, dim=1)
    return [
        [(trained.classes[i], float(p)) for p, i in zip(row_p, row_i, strict=True)]
        for row_p, row_i in zip(values.tolist(), indices.tolist(), strict=True)
    ]
