"""Every builder against an oracle: torchvision's weights metadata, the lecture's tables,
sum(p.numel()) on a real CPU build, and torch's FlopCounterMode."""

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from cnnviz import registry
from cnnviz.analysis import analyze
from cnnviz.architectures.lenet import C3_TABLE, ConnectionTableConv2d

TORCHVISION = [n for n in registry.names() if registry.get(n).torchvision_name]
HAND_BUILT = [n for n in registry.names() if registry.get(n).source != "torchvision"]
# The lecture's VGGs are torchvision's module for module (checked on the meta device below):
# one of them on the CPU is enough.
CPU_BUILT = [n for n in HAND_BUILT if not n.startswith("vgg") or n == "vgg11_lecture"]


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_models_match_the_weights_metadata(name):
    meta = torchvision.models.get_model_weights(registry.get(name).torchvision_name).DEFAULT.meta
    a = analyze(name)
    assert a.total_params == meta["num_params"]
    assert a.total_macs == pytest.approx(meta["_ops"] * 1e9, rel=0.005)


@pytest.mark.parametrize("name", ["alexnet", "vgg11_bn", "vgg16", "googlenet", "resnet50"])
def test_our_builders_equal_torchvisions_own(name):
    with torch.device("meta"):
        ours = registry.build(name)
        kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        theirs = torchvision.models.get_model(name, weights=None, **kwargs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]


@pytest.mark.parametrize("name", CPU_BUILT)
def test_hand_built_models_on_cpu_agree_with_the_meta_analysis(name):
    torch.manual_seed(0)
    model = registry.build(name).eval()
    a = analyze(name)
    assert sum(p.numel() for p in model.parameters()) == a.total_params
    with torch.no_grad():
        out = model(torch.randn(1, *a.input))
    assert tuple(out.shape[1:]) == a.output_shape


@pytest.mark.parametrize(
    "name",
    ["alexnet_lecture", "alexnet_paper", "alexnet", "vgg16", "vgg16_lecture", "googlenet",
     "resnet50",
     "inception_naive", "inception_bottleneck", "resnet_basic_block", "resnet_bottleneck_block"],
)  # fmt: skip
def test_macs_agree_with_torch_flop_counter(name):
    a = analyze(name)
    with torch.device("meta"):
        model = registry.build(name).eval()
        x = torch.zeros(1, *a.input)
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == 2 * a.total_macs


# lecture-facts.md section 2
LENET_PAPER_ROWS = [
    ("c1", (6, 28, 28), 156),
    ("s2", (6, 14, 14), 12),
    ("c3", (16, 10, 10), 1516),
    ("s4", (16, 5, 5), 32),
    ("c5", (120, 1, 1), 48120),
    ("f6", (84,), 10164),
]


def test_lenet5_paper_rows_and_60000_trainable():
    a = analyze("lenet5_paper")
    for name, shape, params in LENET_PAPER_ROWS:
        layer = a.layer(name)
        assert (layer.output_shape, layer.params) == (shape, params), name
    assert a.trainable_params == 60_000
    assert a.total_params - a.trainable_params == 840  # the fixed RBF output


def test_lenet5_modern_and_c3_switch():
    assert analyze("lenet5").total_params == 61_706
    assert analyze("lenet5").layer("c3").params == 2_416
    assert analyze("lenet5", c3_table=True).layer("c3").params == 1_516
    assert analyze("lenet5").depth_in_layers() == 5


def test_c3_table_is_the_papers_table_i():
    assert len(C3_TABLE) == 16
    assert [len(t) for t in C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    assert C3_TABLE[0] == (0, 1, 2) and C3_TABLE[4] == (4, 5, 0)
    assert C3_TABLE[12:15] == ((0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5))
    for i in range(6):  # every S2 map feeds 10 of the 16 C3 maps
        assert sum(i in t for t in C3_TABLE) == 10


def test_connection_table_conv_equals_a_masked_dense_conv():
    torch.manual_seed(0)
    conv = ConnectionTableConv2d(6, C3_TABLE, 5)
    x = torch.randn(2, 6, 14, 14)
    mask = torch.zeros(16, 6, 1, 1)
    for j, ins in enumerate(C3_TABLE):
        mask[j, list(ins)] = 1
    dense = conv.dense_weight()
    assert torch.equal(dense * mask, dense)  # nothing outside the table
    ref = torch.nn.functional.conv2d(x, dense, conv.bias)
    torch.testing.assert_close(conv(x), ref)
    assert sum(p.numel() for p in conv.parameters()) == 1_516


# lecture-facts.md section 5: (name, H x W x C, params)
ALEXNET_ROWS = [
    ("conv1", (96, 55, 55), 34_944),
    ("pool1", (96, 27, 27), 0),
    ("norm1", (96, 27, 27), 0),
    ("conv2", (256, 27, 27), 614_656),
    ("pool2", (256, 13, 13), 0),
    ("norm2", (256, 13, 13), 0),
    ("conv3", (384, 13, 13), 885_120),
    ("conv4", (384, 13, 13), 1_327_488),
    ("conv5", (256, 13, 13), 884_992),
    ("pool3", (256, 6, 6), 0),
    ("fc6", (4096,), 37_752_832),
    ("fc7", (4096,), 16_781_312),
    ("fc8", (1000,), 4_097_000),
]


def test_alexnet_lecture_every_row():
    a = analyze("alexnet_lecture")
    for name, shape, params in ALEXNET_ROWS:
        layer = a.layer(name)
        assert (layer.output_shape, layer.params) == (shape, params), name
    assert a.total_params == 62_378_344
    assert a.depth_in_layers() == 8


def test_alexnet_paper_groups():
    a = analyze("alexnet_paper")
    assert a.total_params == 60_965_224
    assert a.layer("conv2").hyper["groups"] == 2
    assert a.layer("conv3").hyper.get("groups", 1) == 1


def test_alexnet_torchvision_numbers():
    a = analyze("alexnet")
    assert a.total_params == 61_100_840
    # hand-computed: 5 convs 655,566,528 + 3 FC 58,621,952
    assert a.total_macs == 714_188_480


def test_vgg16_lecture_numbers():
    a = analyze("vgg16")
    assert a.total_params == 138_357_544
    assert sum(x.params for x in a.leaves if x.kind == "fc") == 123_642_856
    assert a.total_macs == pytest.approx(15.47e9, rel=0.001)
    assert a.activation_values == 15_237_608  # the slide's per-layer rows, summed
    assert analyze("vgg19").total_params == 143_667_240
    assert [analyze(f"vgg{d}").depth_in_layers() for d in (11, 13, 16, 19)] == [11, 13, 16, 19]


def test_lecture_vgg_is_torchvisions_without_the_adaptive_pool():
    # Same modules, names and shapes as torchvision's at 224 (its weights load), no avgpool.
    for depth, bn in ((11, True), (13, False), (16, False), (19, True)):
        with torch.device("meta"):
            ours = registry.build(f"vgg{depth}_lecture", batch_norm=bn)
            theirs = torchvision.models.get_model(f"vgg{depth}{'_bn' if bn else ''}", weights=None)
        assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
            (k, v.shape) for k, v in theirs.state_dict().items()
        ]
        assert not any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in ours.modules())


@pytest.mark.parametrize("size", [(3, 32, 32), (3, 96, 160), (1, 64, 64)])
def test_lecture_vgg_fc6_follows_the_input_on_cpu(size):
    torch.manual_seed(0)
    model = registry.build("vgg11_lecture", input_size=size).eval()
    a = analyze("vgg11_lecture", size)
    pool5 = 512 * (size[1] // 32) * (size[2] // 32)
    assert model.classifier[0].in_features == pool5
    assert sum(p.numel() for p in model.parameters()) == a.total_params
    with torch.no_grad():
        assert model(torch.randn(1, *size)).shape == (1, 1000)
    # torchvision's adaptive pool keeps FC6 at 7*7*512 whatever the input.
    fc6 = (7 * 7 * 512 - pool5) * 4096
    conv1 = (3 - size[0]) * 9 * 64  # torchvision's takes 3 channels
    assert analyze("vgg11", (3, *size[1:])).total_params - a.total_params == fc6 + conv1


# lecture-facts.md section 7
def test_naive_inception_module_terms():
    a = analyze("inception_naive")
    assert a.layer("branch1x1.conv").macs == 25_690_112
    assert a.layer("branch3x3.conv").macs == 346_816_512
    assert a.layer("branch5x5.conv").macs == 481_689_600
    assert a.total_macs == 854_196_224
    assert a.output_shape == (672, 28, 28)


def test_bottleneck_inception_module_terms():
    a = analyze("inception_bottleneck")
    reduces = ["branch3x3.reduce.conv", "branch5x5.reduce.conv", "branch_pool.proj.conv"]
    assert [a.layer(n).macs for n in reduces] == [12_845_056] * 3  # 3 x ... = 38,535,168
    assert a.layer("branch1x1.conv").macs == 25_690_112
    assert a.layer("branch3x3.conv.conv").macs == 86_704_128
    assert a.layer("branch5x5.conv.conv").macs == 120_422_400
    assert a.total_macs == 271_351_808
    assert a.output_shape == (480, 28, 28)


def test_googlenet_22_layers_9_modules():
    a = analyze("googlenet")
    assert a.total_params == 6_624_904
    assert a.depth_in_layers() == 22
    assert len([b for b in a.blocks if b.type == "Inception"]) == 9


@pytest.mark.parametrize(
    "depth,params",
    [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032), (101, 44_549_160), (152, 60_192_808)],
)
def test_resnet_depths_and_params(depth, params):
    a = analyze(f"resnet{depth}")
    assert a.total_params == params
    assert a.depth_in_layers() == depth


def test_resnet_blocks_of_about_the_same_cost_he_et_al_fig5():
    # A 64-d basic block against a bottleneck on 256-d, both on 56x56 (hand-computed).
    basic = analyze("resnet_basic_block", (64, 56, 56), planes=64)
    bottleneck = analyze("resnet_bottleneck_block", (256, 56, 56), planes=64)
    assert basic.total_macs == 56 * 56 * 64 * 64 * 9 * 2 == 231_211_008
    assert bottleneck.total_macs == 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256) == 218_365_952
    assert basic.total_params == 2 * 64 * 64 * 9 + 2 * 2 * 64
    assert bottleneck.total_params == 256 * 64 * 2 + 64 * 64 * 9 + 2 * (64 + 64 + 256)


def test_resnet_blocks_basic_vs_bottleneck_on_56x56x256():
    basic, bottleneck = analyze("resnet_basic_block"), analyze("resnet_bottleneck_block")
    assert basic.total_macs == 56 * 56 * 256 * 256 * 9 * 2
    assert bottleneck.total_macs == 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256)
    assert basic.output_shape == bottleneck.output_shape == (256, 56, 56)
