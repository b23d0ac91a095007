"""Receptive fields against published tables, the lecture's numbers and an independent method.

The independent method: on a real CPU model whose weights are all positive (1/fan_in, no
bias), with max pools swapped for average pools of the same geometry and batch norm as
identity, the gradient of one output unit with respect to the input is nonzero exactly on the
pixels the unit sees. Its bounding box must equal the engine's region, clipped to the image.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cnnviz import registry
from cnnviz.arithmetic import InputTooSmall
from cnnviz.receptive_field import (
    ReceptiveField,
    UnknownLayer,
    caveat,
    field_calls_of,
    growth_roles,
    layer_field,
    receptive_fields,
    receptive_fields_of,
)
from cnnviz.receptive_field.tracer import UnsupportedLayer

# google-research/receptive_field, README table (TF-Slim): (rf, jump) per layer.
ALEXNET_V2 = {
    "conv1": (11, 4),
    "pool1": (19, 8),
    "conv2": (51, 8),
    "pool2": (67, 16),
    "conv3": (99, 16),
    "conv4": (131, 16),
    "conv5": (163, 16),
    "pool5": (195, 32),
}
VGG_16 = {
    "conv1_1": (3, 1),
    "conv1_2": (5, 1),
    "pool1": (6, 2),
    "conv2_1": (10, 2),
    "conv2_2": (14, 2),
    "pool2": (16, 4),
    "conv3_1": (24, 4),
    "conv3_2": (32, 4),
    "conv3_3": (40, 4),
    "pool3": (44, 8),
    "conv4_1": (60, 8),
    "conv4_2": (76, 8),
    "conv4_3": (92, 8),
    "pool4": (100, 16),
    "conv5_1": (132, 16),
    "conv5_2": (164, 16),
    "conv5_3": (196, 16),
    "pool5": (212, 32),
}
# TF-Slim names -> the modules of our AlexNets and of torchvision's VGG-16 (features.N).
LECTURE_ALEXNET = {**{f"conv{i}": f"conv{i}" for i in range(1, 6)}, "pool5": "pool3"}
LECTURE_ALEXNET |= {"pool1": "pool1", "pool2": "pool2"}
TORCHVISION_ALEXNET = {
    "conv1": "features.0",
    "pool1": "features.2",
    "conv2": "features.3",
    "pool2": "features.5",
    "conv3": "features.6",
    "conv4": "features.8",
    "conv5": "features.10",
    "pool5": "features.12",
}
TORCHVISION_VGG16 = dict(
    zip(
        VGG_16,
        (
            f"features.{i}"
            for i in (0, 2, 4, 5, 7, 9, 10, 12, 14, 16, 17, 19, 21, 23, 24, 26, 28, 30)
        ),
        strict=True,
    )
)


@pytest.mark.parametrize(
    ("name", "names"),
    [("alexnet_lecture", LECTURE_ALEXNET), ("alexnet_paper", LECTURE_ALEXNET),
     ("alexnet", TORCHVISION_ALEXNET)],
)  # fmt: skip
def test_alexnet_matches_published_table(name: str, names: dict[str, str]) -> None:
    fields = receptive_fields_of(name)
    for slim, (rf, jump) in ALEXNET_V2.items():
        field = fields[names[slim]]
        assert (field.rf, field.jump) == ((rf, rf), (jump, jump)), slim


@pytest.mark.parametrize("name", ["vgg16", "vgg16_bn"])
def test_vgg16_matches_published_table(name: str) -> None:
    fields = receptive_fields_of(name)
    names = TORCHVISION_VGG16
    if name.endswith("_bn"):  # every conv gains a BatchNorm2d: indices shift
        convs = [n for n, f in fields.items() if f.type in ("Conv2d", "MaxPool2d")]
        names = dict(zip(VGG_16, [n for n in convs if n.startswith("features.")], strict=True))
    for slim, (rf, jump) in VGG_16.items():
        field = fields[names[slim]]
        assert (field.rf, field.jump) == ((rf, rf), (jump, jump)), slim
    # Published effective padding at pool5: 90 pixels, so unit (0, 0) starts at -90.
    assert fields[names["pool5"]].start == (-90, -90)
    assert fields[names["pool5"]].center == (15.5, 15.5)


def test_alexnet_start_depends_on_padding() -> None:
    # Same geometry, different padding: the slides' conv1 has none, torchvision's has 2.
    assert layer_field("alexnet_lecture", "conv1").start == (0, 0)
    assert layer_field("alexnet", "features.0").start == (-2, -2)
    # Hand-computed: conv1 -2, pool1 -2 (no padding, jump 8), conv2 -2 - 2*8 = -18.
    assert layer_field("alexnet", "features.3").start == (-18, -18)


def test_lecture_rule_for_a_chain() -> None:
    # r_out = r_in + (k - 1) * j_in, j_out = j_in * s, hand-computed for LeNet-5.
    fields = receptive_fields_of("lenet5")
    assert [fields[n].rf[0] for n in ("c1", "s2", "c3", "s4", "c5")] == [5, 6, 14, 16, 32]
    assert [fields[n].jump[0] for n in ("c1", "s2", "c3", "s4", "c5")] == [1, 2, 2, 4, 4]


def test_global_layers_report_the_whole_input() -> None:
    fields = receptive_fields_of("resnet18", (3, 200, 300))
    for name in ("avgpool", "fc"):
        field = fields[name]
        assert field.is_global
        assert (field.rf, field.start, field.jump) == ((200, 300), (0, 0), (200, 300))
        assert field.region(0, 0) == (0, 0, 199, 299)
    flat = receptive_fields_of("alexnet_lecture")["flatten"]
    assert flat.is_global and flat.rf == (227, 227)


def test_non_square_input_and_kernels_work_per_axis() -> None:
    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 8, (3, 7), stride=(1, 2), padding=(1, 0)),
            nn.MaxPool2d((2, 3), stride=(2, 1), dilation=(1, 2)),
            nn.AdaptiveAvgPool2d((1, 5)),
        )
    fields = receptive_fields(model, (3, 40, 61))
    assert fields["0"].rf == (3, 7) and fields["0"].jump == (1, 2) and fields["0"].start == (-1, 0)
    # Dilated pool: k_eff = 2*(3-1)+1 = 5 along W: rf 7 + 4*2 = 15.
    assert fields["1"].rf == (4, 15) and fields["1"].jump == (2, 2)
    # (20, 24) -> (1, 5): H pools everything: rf 4 + 19 * 2. W: 24 / 5 does not divide; unit
    # i of the pool covers pool units floor(24i/5)..ceil(24(i+1)/5) - 1, each of which sees
    # columns 2k..2k + 14: hand-computed per unit.
    pooled = fields["2"]
    assert pooled.exact and not pooled.uniform and pooled.rf == (42, 25)
    assert pooled.spans == (
        ((-1, 40),),
        ((0, 22), (8, 32), (18, 42), (28, 52), (38, 60)),
    )
    assert pooled.region(0, 4) == (-1, 38, 40, 60)
    resnet = receptive_fields_of("resnet18", (3, 160, 320))["layer3"]
    assert resnet.grid == (10, 20) and resnet.rf == (211, 211)


def test_adaptive_pool_windows_are_exact() -> None:
    fields = receptive_fields_of("alexnet", (3, 224, 224))
    assert fields["avgpool"].uniform and fields["avgpool"].rf == fields["features.12"].rf
    # 7 -> 6: window i covers units floor(7i/6)..ceil(7(i+1)/6) - 1 = i..i+1: a plain pool
    # with k = 2, s = 1, so the field grows by one jump (32) and the jump stays 32.
    pooled = receptive_fields_of("alexnet", (3, 256, 256))["avgpool"]
    assert pooled.uniform and (pooled.rf, pooled.jump) == ((227, 227), (32, 32))
    # 160 rows: pool5 has 4, pooled to 6 by windows 0..0, 0..1, 1..1, 2..2, 2..3, 3..3 of
    # units that see rows -66 + 32k .. 128 + 32k: hand-computed.
    field = receptive_fields_of("alexnet", (3, 160, 224))["avgpool"]
    assert not field.uniform and field.spans is not None
    assert field.spans[0] == ((-66, 128), (-66, 160), (-34, 160), (-2, 192), (-2, 224), (30, 224))
    assert field.rf_range == ((195, 227), (195, 195))
    assert "195 to 227 x 195" in caveat(field)


def test_region_and_center() -> None:
    field = layer_field("vgg16", "features.30")
    assert field.region(0, 0) == (-90, -90, 121, 121)
    assert field.region(6, 2) == (-90 + 6 * 32, -90 + 64, 121 + 6 * 32, 121 + 64)
    with pytest.raises(ValueError, match="outside"):
        field.region(7, 0)


def test_googlenet_transform_input_is_followed() -> None:
    # With pretrained weights torchvision's GoogLeNet rescales its input channel by channel
    # (indexing, unsqueeze, cat): that must not change the geometry.
    with torch.device("meta"):
        model = torchvision.models.googlenet(
            weights=None, aux_logits=True, transform_input=True, init_weights=False
        )
    fields = receptive_fields(model, (3, 224, 224))
    plain = receptive_fields_of("googlenet")
    for name in ("conv1", "inception3a", "inception4e", "inception5b", "fc"):
        assert fields[name] == plain[name]


def test_repeated_modules_are_listed_per_call() -> None:
    # torchvision's BasicBlock calls its one ReLU twice: after bn1 and after the addition.
    calls = [c for c in field_calls_of("resnet18") if c.name == "layer1.0.relu"]
    # maxpool: rf 11, jump 4; each 3x3 conv adds 2 * 4.
    assert [c.rf[0] for c in calls] == [11 + 8, 11 + 16]
    assert receptive_fields_of("resnet18")["layer1.0.relu"] == calls[0]


def test_unknown_layer_lists_valid_names() -> None:
    with pytest.raises(UnknownLayer, match=r"no layer 'layer9'.*conv1"):
        layer_field("resnet18", "layer9")


def test_input_too_small_names_the_layer() -> None:
    with pytest.raises(InputTooSmall, match="features"):
        receptive_fields_of("vgg16", (3, 16, 16))


class _Resample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2)


class _Flip(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, dims=[3])


class _ChannelShuffle(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def test_unhandled_ops_raise_instead_of_guessing() -> None:
    with torch.device("meta"):
        up = nn.Sequential(nn.Conv2d(3, 4, 3), _Resample())
        flip = nn.Sequential(nn.Conv2d(3, 4, 3), _Flip())
        transposed = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, padding=1))
    with pytest.raises(UnsupportedLayer, match=r"interpolate in layer '1'"):
        receptive_fields(up, (3, 16, 16))
    with pytest.raises(UnsupportedLayer, match="flip"):
        receptive_fields(flip, (3, 16, 16))
    # A 'same' transposed conv keeps the size, so only the op's name can stop it.
    with pytest.raises(UnsupportedLayer, match="conv_transpose2d"):
        receptive_fields(transposed, (3, 16, 16))


class _PasteInto(nn.Module):
    """Writes a wide-field map into a narrow-field one in place (x[:, :2] = y)."""

    def __init__(self) -> None:
        super().__init__()
        self.narrow, self.wide = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 2, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.narrow(x)
        out[:, :2] = self.wide(x)
        return out


def test_in_place_writes_widen_the_field() -> None:
    with torch.device("meta"):
        model = nn.Sequential(_PasteInto())
    assert receptive_fields(model, (3, 16, 16))["0"].rf == (5, 5)


def test_channel_only_reshapes_keep_the_field() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(4, 4, 3), _ChannelShuffle(), nn.Conv2d(4, 4, 3))
    fields = receptive_fields(model, (4, 16, 16))
    assert fields["1"].rf == (3, 3) and fields["2"].rf == (5, 5)


def test_runs_on_a_real_cpu_model_too() -> None:
    model = registry.build("resnet18").train()
    model.layer1.eval()  # a frozen part keeps its own mode
    fields = receptive_fields(model, (3, 64, 64))
    assert fields == receptive_fields_of("resnet18", (3, 64, 64))
    # Traced in eval mode, then every module's own mode restored.
    assert model.training and model.layer2.training and not model.layer1.training
    assert receptive_fields(model.double(), (3, 64, 64)) == fields


# --- The independent method: footprint of the gradient on a positive-weight twin ----------


def positive_twin(model: nn.Module) -> nn.Module:
    """Same geometry, all-positive weights (1/fan_in), max -> average pools, BN -> identity."""
    for name, module in list(model.named_modules()):
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if isinstance(module, nn.MaxPool2d):
            assert module.dilation in (1, (1, 1))
            pool = nn.AvgPool2d(
                module.kernel_size, module.stride, module.padding, ceil_mode=module.ceil_mode
            )
            setattr(parent, attr, pool)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            setattr(parent, attr, nn.Identity())
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
    return model.eval().requires_grad_(False)


class _Stop(Exception):
    pass


def corners(rows: int, cols: int) -> list[tuple[int, int]]:
    return [(0, 0), (rows - 1, cols - 1)]


def every_row_and_column(rows: int, cols: int) -> list[tuple[int, int]]:
    """Every row and every column at least once (the field is separable per axis)."""
    return sorted(
        {(i, min(i, cols - 1)) for i in range(rows)} | {(min(j, rows - 1), j) for j in range(cols)}
    )


def gradient_boxes(
    name: str | nn.Module,
    size: tuple[int, int, int],
    layers: list[str],
    dtype: torch.dtype = torch.float32,
    units=corners,
    **options,
) -> dict[tuple[str, int, int], tuple[int, int, int, int]]:
    """Bounding box of the nonzero input gradient of some units (the two corner units unless
    `units` says otherwise) of each layer of a registered model or a CPU module.

    float32 suffices: the smallest gradient, at a field's corner, is one path's product of
    1/k^2 factors (about 1e-17 for the deepest layer here), far above float32's 1e-38.
    """
    if isinstance(name, nn.Module):
        model = positive_twin(name).to(dtype)
    else:
        with torch.device("meta"):
            meta = registry.build(name, input_size=size, **options)
        model = positive_twin(meta.to_empty(device="cpu")).to(dtype)
    modules = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        modules[n].register_forward_hook(lambda _m, _i, o, n=n: outputs.setdefault(n, o))
        for n in layers
    ]

    def stop(*_args) -> None:
        raise _Stop

    handles.append(modules[layers[-1]].register_forward_hook(stop))
    x = torch.ones(1, *size, dtype=dtype, requires_grad=True)
    try:
        model(x)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    boxes = {}
    for n in layers:
        out = outputs[n]
        rows, cols = out.shape[-2:]
        for i, j in units(rows, cols):
            (grad,) = torch.autograd.grad(out[0, :, i, j].sum(), x, retain_graph=True)
            seen = (grad[0].abs().sum(0) > 0).nonzero()
            top, left = seen.min(0).values.tolist()
            bottom, right = seen.max(0).values.tolist()
            boxes[(n, i, j)] = (top, left, bottom, right)
    return boxes


def clipped(field: ReceptiveField, i: int, j: int, h: int, w: int) -> tuple[int, int, int, int]:
    top, left, bottom, right = field.region(i, j)
    return max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)


def assert_engine_matches_gradient(
    name: str, size: tuple[int, int, int], layers: list[str], **options
) -> None:
    fields = receptive_fields_of(name, size, **options)
    boxes = gradient_boxes(name, size, layers, **options)
    informative = 0
    for (n, i, j), box in boxes.items():
        field = fields[n]
        assert clipped(field, i, j, size[1], size[2]) == box, (n, i, j)
        # The chosen sizes keep the box from being the whole image: it tests rf and start.
        informative += box != (0, 0, size[1] - 1, size[2] - 1)
    assert informative == len(boxes)


@pytest.mark.parametrize(
    ("name", "size", "layers", "options"),
    [
        ("inception_naive", (256, 28, 28), ["branch1x1", "branch5x5", "branch_pool"], {}),
        ("inception_bottleneck", (256, 28, 28), ["branch3x3", "branch5x5", "branch_pool"], {}),
        ("resnet_basic_block", (64, 32, 32), ["conv2", "downsample"], {"planes": 128, "stride": 2}),
        ("resnet_bottleneck_block", (256, 56, 56), ["conv3", "downsample"], {"stride": 2}),
    ],
)
def test_blocks_against_gradient_footprint(name, size, layers, options) -> None:
    assert_engine_matches_gradient(name, size, layers, **options)


def test_resnet18_against_gradient_footprint() -> None:
    # Non-square: on W the last unit of layer4 still starts inside the image.
    assert_engine_matches_gradient(
        "resnet18", (3, 224, 320), ["maxpool", "layer1", "layer2.0", "layer3", "layer4"]
    )


def test_resnet18_block_outputs_against_gradient_footprint() -> None:
    # The union of both paths: a unit after `out += identity` and the final in-place ReLU.
    fields = receptive_fields_of("resnet18", (3, 128, 128))
    boxes = gradient_boxes("resnet18", (3, 128, 128), ["layer2.0", "layer2.1"])
    for (n, i, j), box in boxes.items():
        assert clipped(fields[n], i, j, 128, 128) == box


def test_googlenet_against_gradient_footprint() -> None:
    assert_engine_matches_gradient(
        "googlenet",
        (3, 224, 224),
        ["maxpool2", "inception3a", "inception3b", "maxpool3", "inception4a", "inception4e"],
    )


def test_resnet50_against_gradient_footprint() -> None:
    assert_engine_matches_gradient(
        "resnet50", (3, 160, 224), ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    )


@pytest.mark.slow
def test_resnet152_against_gradient_footprint() -> None:
    assert_engine_matches_gradient("resnet152", (3, 160, 160), ["layer2.7", "layer3.3"])


# --- Adaptive pools whose output does not divide the input: every unit's own window --------


def assert_every_unit_matches(fields, boxes, h: int, w: int) -> None:
    for (n, i, j), box in boxes.items():
        assert clipped(fields[n], i, j, h, w) == box, (n, i, j)


@pytest.mark.parametrize("size", [(3, 160, 224), (3, 320, 224), (3, 200, 288)])
def test_alexnet_adaptive_pool_every_unit_against_gradient_footprint(size) -> None:
    # 160: pool5 4 rows -> 6 (windows of 1 and 2); 320: 9 -> 6 (equal windows, uneven steps);
    # 288: 8 columns -> 6. The old widest-window approximation was off by up to 32 px here.
    fields = receptive_fields_of("alexnet", size)
    assert not fields["avgpool"].uniform
    boxes = gradient_boxes("alexnet", size, ["avgpool"], units=every_row_and_column)
    assert_every_unit_matches(fields, boxes, size[1], size[2])
    assert any(box[0] > 0 for box in boxes.values())  # not all whole-image boxes


def test_layers_after_an_uneven_adaptive_pool_against_gradient_footprint() -> None:
    # A conv with padding and a strided pool on top of unevenly spaced units: windows are
    # composed unit by unit, and padding adds no pixels.
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=2, padding=1),
        nn.AdaptiveAvgPool2d((7, 5)),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.MaxPool2d(2, stride=2, ceil_mode=True),
        nn.Conv2d(3, 3, (1, 2), dilation=(1, 2)),
    )
    size = (2, 37, 23)
    with torch.device("meta"):
        fields = receptive_fields(model.to("meta"), size)
    model = model.to_empty(device="cpu")
    layers = ["1", "2", "3", "4"]
    assert not any(fields[n].uniform for n in layers)
    boxes = gradient_boxes(model, size, layers, units=every_row_and_column)
    assert_every_unit_matches(fields, boxes, size[1], size[2])


@pytest.mark.slow
def test_vgg16_adaptive_pool_every_unit_against_gradient_footprint() -> None:
    size = (3, 160, 224)  # pool5 5x7 -> 7x7: windows of 1 and 2 rows
    fields = receptive_fields_of("vgg16", size)
    boxes = gradient_boxes("vgg16", size, ["avgpool"], units=every_row_and_column)
    assert_every_unit_matches(fields, boxes, size[1], size[2])


# --- The growth chart: the main path never shrinks -----------------------------------------


def test_growth_follows_the_main_path_and_sets_side_branches_apart() -> None:
    roles = growth_roles(list(receptive_fields_of("resnet18").values()))
    main = [f.rf[0] for f, role in roles if role == "main"]
    assert main == sorted(main) and main[-1] == 435  # layer4's last conv
    # The downsample shortcuts' 1x1 convs (and their BN) see the block input's field with the
    # doubled jump: 43, 99, 211, below the main path's 67, 147, 307 at that point.
    side = [(f.name, f.rf[0]) for f, role in roles if role == "side"]
    assert side == [
        (f"layer{s}.0.downsample.{i}", rf) for s, rf in ((2, 43), (3, 99), (4, 211)) for i in (0, 1)
    ]
    assert [f.name for f, role in roles if role == "global"] == ["avgpool", "fc"]
    assert all(f.rf == (224, 224) for f, role in roles if role == "global")


def test_growth_of_inception_keeps_the_widest_branch() -> None:
    fields = receptive_fields_of("googlenet")
    roles = growth_roles(list(fields.values()))
    main = [f.rf[0] for f, role in roles if role == "main"]
    assert main == sorted(main)
    # Each module's output (the union over its branches) is on the main path.
    widest = {f.name: f.rf[0] for f, role in roles if role == "main"}
    assert max(widest.values()) >= fields["inception5b"].rf[0]
    assert all(not f.name.endswith("branch1.conv") for f, r in roles if r == "side")


class _TwoStrides(nn.Module):
    """Two paths of different jumps (2 and 1) onto maps of one size, added: the units drift."""

    def __init__(self) -> None:
        super().__init__()
        self.strided, self.wide = nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.Conv2d(2, 3, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.strided(x) + self.wide(x)


def test_paths_of_different_jumps_merge_unit_by_unit() -> None:
    # On 14 px both paths give 7 units: unit i sees [2i - 1, 2i + 1] and [i, i + 7]; their
    # union, hand-computed, is 9 px wide for unit 0 and 8 for the others; then a 3x3 conv.
    torch.manual_seed(0)
    model = nn.Sequential(_TwoStrides(), nn.Conv2d(3, 3, 3))
    size = (2, 14, 14)
    with torch.device("meta"):
        fields = receptive_fields(model.to("meta"), size)
    assert fields["0"].spans[0] == ((-1, 7), *((i, i + 7) for i in range(1, 7)))
    assert fields["0"].exact and not fields["0"].uniform
    boxes = gradient_boxes(
        model.to_empty(device="cpu"), size, ["0", "1"], units=every_row_and_column
    )
    assert_every_unit_matches(fields, boxes, size[1], size[2])
