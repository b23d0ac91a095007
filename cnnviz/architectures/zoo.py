"""torchvision's AlexNet, VGG, GoogLeNet and ResNet, built without weights."""

from __future__ import annotations

import math
from collections import OrderedDict

from torch import nn
from torchvision.models import alexnet as tv_alexnet
from torchvision.models import googlenet as tv_googlenet
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.models.vgg import VGG, cfgs, make_layers

from cnnviz.analysis import Analysis
from cnnviz.arithmetic import feature_size
from cnnviz.notation import volume
from cnnviz.registry import register

# VGG configurations are data: torchvision's cfgs, keyed by depth.
VGG_CFG = {11: "A", 13: "B", 16: "D", 19: "E"}
# ResNet: block type and blocks per stage, as in He et al. 2015, Table 1.
RESNET_LAYERS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def vgg(*, depth: int = 16, batch_norm: bool = False, num_classes: int = 1000) -> VGG:
    """VGG-depth from torchvision's configuration lists ("M" = 2x2 max pool)."""
    if depth not in VGG_CFG:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_CFG)}, not {depth}")
    return VGG(make_layers(cfgs[VGG_CFG[depth]], batch_norm=batch_norm), num_classes=num_classes)


def vgg_features(depth: int, in_channels: int, batch_norm: bool) -> nn.Sequential:
    """VGG's convolutional part, module for module as torchvision's make_layers (features.N
    names agree), but on any number of input channels."""
    if depth not in VGG_CFG:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_CFG)}, not {depth}")
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfgs[VGG_CFG[depth]]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
            continue
        layers.append(nn.Conv2d(c, int(v), 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        c = int(v)
    return nn.Sequential(*layers)


def vgg_lecture(
    *,
    input_size: tuple[int, int, int] = (3, 224, 224),
    depth: int = 16,
    batch_norm: bool = False,
    num_classes: int = 1000,
    dropout: float = 0.5,
) -> nn.Sequential:
    """VGG as the slides draw it: no adaptive pool, FC6 takes pool5's whole volume, so its size
    follows the input (7x7x512 -> 4096 at 224). torchvision's VGG pools to 7x7 first."""
    features = vgg_features(depth, input_size[0], batch_norm)
    c, h, w = feature_size(features.named_children(), input_size)
    # Same indices as torchvision's classifier: Linear 0, 3, 6.
    classifier = nn.Sequential(
        nn.Linear(c * h * w, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )
    return nn.Sequential(
        OrderedDict(features=features, flatten=nn.Flatten(), classifier=classifier)
    )


def resnet(*, depth: int = 50, num_classes: int = 1000, width_per_group: int = 64) -> ResNet:
    """ResNet-depth: torchvision's ResNet over its BasicBlock or Bottleneck."""
    if depth not in RESNET_LAYERS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNET_LAYERS)}, not {depth}")
    block, layers = RESNET_LAYERS[depth]
    return ResNet(block, list(layers), num_classes=num_classes, width_per_group=width_per_group)


register(
    "alexnet",
    family="AlexNet",
    title="AlexNet (torchvision)",
    default_input=(3, 224, 224),
    source="torchvision",
    torchvision_name="alexnet",
    description="torchvision's AlexNet: the one-GPU variant, 64-192-384-256-256 filters.",
)(lambda *, num_classes=1000, dropout=0.5: tv_alexnet(num_classes=num_classes, dropout=dropout))

for _depth in VGG_CFG:
    register(
        f"vgg{_depth}_lecture",
        family="VGG",
        title=f"VGG-{_depth} (lecture: FC6 follows the input)",
        default_input=(3, 224, 224),
        source="lecture",
        description=f"The slides' VGG-{_depth}: no adaptive pool, FC6 takes pool5's volume, so "
        "the FC sizes follow the input (VGG-16 at 224: 138,357,544 params).",
        depth=_depth,
    )(vgg_lecture)

for _depth in VGG_CFG:
    for _bn in (False, True):
        _name = f"vgg{_depth}{'_bn' if _bn else ''}"
        register(
            _name,
            family="VGG",
            title=f"VGG-{_depth}{' with batch norm' if _bn else ''}",
            default_input=(3, 224, 224),
            source="torchvision",
            torchvision_name=_name,
            description=f"Configuration {VGG_CFG[_depth]} of Simonyan & Zisserman: only 3x3 "
            "convs (stride 1, pad 1) and 2x2 max pools.",
            depth=_depth,
            batch_norm=_bn,
        )(vgg)

register(
    "googlenet",
    family="GoogLeNet",
    title="GoogLeNet (Inception v1)",
    default_input=(3, 224, 224),
    source="torchvision",
    torchvision_name="googlenet",
    description="torchvision's GoogLeNet without the auxiliary heads: 22 layers with "
    "parameters, 9 Inception modules.",
)(
    lambda *, num_classes=1000, dropout=0.2: tv_googlenet(
        num_classes=num_classes, aux_logits=False, init_weights=True, dropout=dropout
    )
)

for _depth in RESNET_LAYERS:
    register(
        f"resnet{_depth}",
        family="ResNet",
        title=f"ResNet-{_depth}",
        default_input=(3, 224, 224),
        source="torchvision",
        torchvision_name=f"resnet{_depth}",
        description=f"He et al. 2015, {_depth} layers; "
        f"{'basic' if _depth < 50 else 'bottleneck'} blocks (torchvision v1.5).",
        depth=_depth,
    )(resnet)


def adaptive_pool_note(analysis: Analysis) -> str | None:
    """What torchvision's adaptive average pool before FC6 does to the FC sizes, for a page;
    None when the model has none (the lecture's networks)."""
    pool = next((x for x in analysis.leaves if x.type == "AdaptiveAvgPool2d"), None)
    if pool is None:
        return None
    c, h, w = pool.input_shape
    out = pool.output_shape
    fc = [x for x in analysis.leaves if x.kind == "fc"]
    if (h, w) == tuple(out[1:]):
        does = "changes nothing at this input"
    elif h >= out[1] and w >= out[2]:
        does = "averages windows of it down to"
    elif h <= out[1] and w <= out[2]:
        does = "repeats its values up to"
    else:
        does = "averages and repeats it to"
    does = does if does.endswith("input") else f"{does} {volume(out)}"
    return (
        f"torchvision's adaptive average pool: pool5 gives {volume((c, h, w))} here, and the "
        f"adaptive pool {does}. FC6 always takes {math.prod(out):,} values, so the FC layers "
        f"keep {sum(x.params for x in fc):,} parameters whatever the input size; the slides' "
        "network has no such pool: its FC6 takes pool5's whole volume."
    )
