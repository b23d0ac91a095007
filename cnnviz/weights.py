"""Weights for a registered model: seeded (untrained) or torchvision's pretrained, from disk only.

Nothing here downloads. Pretrained weights load through torchvision's own code
(`torchvision.models.get_model(..., weights="DEFAULT")`), which reads the file from
`torch.hub.get_dir()/checkpoints/` when it is there; `load_pretrained` checks first and
raises `WeightsMissing`, naming the file and the command that fetches it, when it is not. The
messages name files, never the server's folders: pages show them to students.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from cnnviz import registry
from cnnviz.errors import NoPretrainedWeights, WeightsMissing

# torchvision classification models that are not in the registry (which holds the lecture's
# architectures) but serve as transfer-learning backbones (cnnviz.train).
EXTRA_TORCHVISION = ("mobilenet_v3_small", "efficientnet_b0")


def torchvision_name(name: str) -> str:
    """The torchvision model name behind `name`; NoPretrainedWeights for the lecture's builds,
    UnknownModel for names neither the registry nor EXTRA_TORCHVISION knows."""
    if name in EXTRA_TORCHVISION and name not in registry.REGISTRY:
        return name
    arch = registry.get(name)
    if arch.torchvision_name is None:
        raise NoPretrainedWeights(
            f"{name} is built here ({arch.source}); torchvision has no pretrained weights for it"
        )
    return arch.torchvision_name


def default_weights(name: str) -> torchvision.models.WeightsEnum:
    """torchvision's default (ImageNet) weights entry for `name`."""
    return torchvision.models.get_model_weights(torchvision_name(name)).DEFAULT


_default_weights = default_weights


def weights_url(name: str) -> str:
    """Where torchvision publishes `name`'s default ImageNet weights."""
    return _default_weights(name).url


def weights_file(name: str) -> Path:
    """The file torchvision reads: torch.hub.get_dir()/checkpoints/<file name of the URL>."""
    file_name = Path(urlparse(weights_url(name)).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def weights_available(name: str) -> bool:
    """Whether `name` has torchvision weights and their file is on disk."""
    try:
        return weights_file(name).is_file()
    except NoPretrainedWeights:
        return False


def missing_message(name: str) -> str:
    """One sentence: which file is missing and how the teacher fetches it (or that no
    pretrained weights exist); the file's name, not the server folder it goes to."""
    try:
        path = weights_file(name)
    except NoPretrainedWeights as err:
        return str(err)
    return (
        f"The pretrained weights of {name} ({path.name}) are not on this server: the teacher "
        f"runs `python -m cnnviz fetch-weights {name}` on a machine with internet, or downloads "
        f"{weights_url(name)} into torch's checkpoints folder (this app never downloads)."
    )


def load_pretrained(name: str) -> nn.Module:
    """torchvision's pretrained `name` in eval mode, from disk; WeightsMissing if absent.

    torchvision's GoogLeNet with weights sets transform_input=True (the ported weights expect
    inputs rescaled from ImageNet normalization) and drops the auxiliary heads after loading,
    as the app's googlenet has none: same layers, same names.
    """
    weights = _default_weights(name)
    if not weights_file(name).is_file():
        raise WeightsMissing(missing_message(name))
    model = torchvision.models.get_model(torchvision_name(name), weights=weights)
    return model.eval()


def untrained(
    arch: registry.Architecture, input_size: tuple[int, int, int] | None = None, seed: int = 0
) -> nn.Module:
    """`arch` with its builder's random initialization drawn from `seed`, in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = arch.build(input_size=input_size)
    return model.eval()


def app_weights(backbones: Iterable[str]) -> list[str]:
    """Every model whose torchvision weights some page can use, one per weights file: the
    transfer-learning `backbones` first (`cnnviz.train.BACKBONES`, which the caller hands in:
    cnnviz.train builds on this module), then the registry's torchvision models."""
    names = [*backbones, *(n for n in registry.names() if registry.get(n).torchvision_name)]
    files: dict[Path, str] = {}
    for name in names:
        files.setdefault(weights_file(name), name)
    return list(files.values())


def weights_status(names: list[str]) -> list[dict[str, object]]:
    """One row per model: its weights file, its size in MB when present, whether it is."""
    rows: list[dict[str, object]] = []
    for name in names:
        path = weights_file(name)
        present = path.is_file()
        size = round(path.stat().st_size / 1e6) if present else None
        rows.append({"model": name, "present": present, "file": path.name, "MB": size})
    return rows
