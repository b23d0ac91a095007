"""The analysis engine: conventions, containers, repeated modules, errors, JSON contract."""

import math

import pytest
import torch
import torchinfo
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from cnnviz import registry
from cnnviz.analysis import analyze, analyze_module, volume
from cnnviz.errors import DoesNotFit, InputTooSmall
from cnnviz.receptive_field import field_calls_of, receptive_fields


def test_rows_are_named_like_named_modules():
    with torch.device("meta"):
        model = registry.build("resnet18")
    names = {n for n, _ in model.named_modules() if n}
    a = analyze("resnet18")
    assert {layer.name for layer in a.layers} == names
    assert {"layer4", "layer4.1.conv2", "fc"} <= {layer.name for layer in a.layers}


def test_macs_exclude_bias_unlike_torchinfo():
    with torch.device("meta"):
        model = registry.build("inception_naive")
    mult_adds = torchinfo.summary(model, input_size=(1, 256, 28, 28), device="meta", verbose=0)
    assert mult_adds.total_mult_adds == 854_522_368  # bias additions included
    assert analyze("inception_naive").total_macs == 854_196_224  # the lecture's convention


def test_leaves_sum_to_the_total_and_repeated_modules_count_once():
    a = analyze("resnet50")
    assert sum(layer.params for layer in a.leaves) == a.total_params
    repeats = [layer for layer in a.layers if layer.repeat]
    assert repeats and all(layer.type == "ReLU" for layer in repeats)


def test_block_rows_sum_their_leaves():
    a = analyze("vgg16")
    features = a.layer("features")
    assert features.macs == sum(x.macs for x in a.leaves if x.name.startswith("features."))
    assert features.params == 14_714_688
    assert features.output_shape == (512, 7, 7)


def test_input_size_changes_every_volume():
    a = analyze("alexnet_lecture", (3, 259, 259))
    assert a.layer("conv1").output_shape == (96, 63, 63)  # (259-11)/4+1
    assert a.layer("fc6").hyper["in_features"] == 256 * 7 * 7
    b = analyze("vgg16", (3, 160, 96))  # non-square
    assert b.layer("features.30").output_shape == (512, 5, 3)


def test_meta_analysis_allocates_no_weights():
    with torch.device("meta"):
        model = registry.build("vgg16")
    analyze_module(model, (3, 224, 224), "vgg16")
    assert all(p.device.type == "meta" for p in model.parameters())
    # the temporary batch-norm pass-through is removed again
    with torch.device("meta"):
        bn_model = registry.build("resnet18")
    analyze_module(bn_model, (3, 224, 224))
    assert "forward" not in bn_model.bn1.__dict__


def test_input_too_small_names_the_first_layer_that_cannot_fit():
    with pytest.raises(
        InputTooSmall, match=r"16x16x3 input is too small for vgg16.*'features\.30'"
    ):
        analyze("vgg16", (3, 16, 16))
    with pytest.raises(InputTooSmall, match=r"alexnet_lecture.*'pool3'"):
        analyze("alexnet_lecture", (3, 40, 40))
    with pytest.raises(InputTooSmall, match=r"'c5'"):
        analyze("lenet5", (1, 20, 20))


def test_wrong_channel_count_is_explained():
    with pytest.raises(DoesNotFit, match=r"'features\.0'.*expects 3 input channels.*gets 1") as err:
        analyze("vgg16", (1, 224, 224))
    # "does not fit" is not "too small": the hint says what to change, not "a larger input".
    assert not isinstance(err.value, InputTooSmall)
    assert err.value.hint == "Set the input depth to 3."


def test_bad_sizes_are_value_errors():
    with pytest.raises(ValueError):
        analyze("vgg16", (3, 0, 224))
    with pytest.raises(ValueError):
        analyze("vgg16", (224, 224))


def test_json_contract():
    doc = analyze("lenet5").to_json()
    assert {"model", "input", "total_params", "trainable_params", "total_macs", "layers"} <= set(
        doc
    )
    assert doc["input"] == [1, 32, 32]
    row = doc["layers"][0]
    assert {"name", "type", "output_shape", "params", "macs"} <= set(row)
    assert row == {
        **row,
        "name": "c1",
        "type": "Conv2d",
        "output_shape": [6, 28, 28],
        "params": 156,
    }
    assert doc["layers"][-1]["output_shape"] == [10]
    assert doc["total_macs"] == sum(r["macs"] for r in doc["layers"])


def test_volume_is_h_w_c():
    assert volume((96, 55, 55)) == "55x55x96"
    assert volume((4096,)) == "4096"


def test_diagram_collapses_blocks_but_not_plain_sequences():
    vgg = [u.name for u in analyze("vgg16").diagram_layers()]
    assert vgg[:3] == ["features.0", "features.2", "features.4"]
    resnet = [u.name for u in analyze("resnet18").diagram_layers()]
    assert resnet[:3] == ["conv1", "maxpool", "layer1.0"] and "layer4.1" in resnet
    google = [u.type for u in analyze("googlenet").diagram_layers()]
    assert google.count("Inception") == 9


def test_activation_values_count_conv_pool_fc_outputs_and_input():
    a = analyze("alexnet_lecture")
    counted = [x for x in a.leaves if x.kind in ("conv", "pool", "fc")]
    assert a.activation_values == 227 * 227 * 3 + sum(math.prod(x.output_shape) for x in counted)


class LargestCpuTensor(TorchDispatchMode):
    """Records the largest tensor any torch operation creates on the CPU."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize(
    ("name", "size"),
    [("alexnet_lecture", (3, 2048, 2048)), ("resnet_basic_block", (4096, 512, 512))],
)
def test_memory_does_not_follow_the_input_size(name, size):
    # torchinfo's input_size builds torch.rand(C, H, W) on the CPU before moving it: 12.6 M
    # values for 3x2048x2048, 1 G for the block. The meta analysis and the field tracer
    # create no CPU tensor anywhere near the input's size.
    from cnnviz.analysis import _analyze_cached
    from cnnviz.receptive_field.theoretical import _calls_cached

    _analyze_cached.cache_clear()
    _calls_cached.cache_clear()
    with LargestCpuTensor() as spy:
        analyze(name, size)
        field_calls_of(name, size)
        registry.build_meta(name, size)
    assert spy.largest < 100_000 < math.prod(size)


def test_field_tracer_of_a_real_model_allocates_nothing_the_size_of_the_input():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    with LargestCpuTensor() as spy:
        fields = receptive_fields(model, (3, 2048, 2048))
    assert fields["2"].rf == (4, 4) and spy.largest < 1000
    assert all(p.device.type == "cpu" for p in model.parameters())  # the model is untouched
