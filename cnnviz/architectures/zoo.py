"""torchvision's AlexNet, VGG, GoogLeNet and ResNet, built without weights."""

from __future__ import annotations

from torch import nn
from torchvision.models import alexnet as tv_alexnet
from torchvision.models import googlenet as tv_googlenet
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.models.vgg import VGG, cfgs, make_layers

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
