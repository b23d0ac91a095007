"""The registry: names, options, presets, errors."""

import pytest
import torch

from cnnviz import registry


def test_every_name_the_issue_asks_for_is_registered():
    wanted = {
        "lenet5", "alexnet_lecture", "alexnet_paper", "alexnet", "googlenet",
        "inception_naive", "inception_bottleneck", "resnet_basic_block", "resnet_bottleneck_block",
        *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn", "_lecture")),
        *(f"resnet{d}" for d in (18, 34, 50, 101, 152)),
    }  # fmt: skip
    assert wanted <= set(registry.names())


def test_names_follow_the_lecture_order_of_families():
    families = [registry.get(n).family for n in registry.names()]
    order = [registry.FAMILIES.index(f) for f in families]
    assert order == sorted(order)
    assert registry.names("ResNet")[-1] == "resnet152"


def test_unknown_model_is_a_clear_error():
    with pytest.raises(registry.UnknownModel, match=r"unknown model 'vgg17'.*vgg16"):
        registry.get("vgg17")


def test_unknown_option_names_the_options():
    with pytest.raises(TypeError, match=r"no option.*widths"):
        registry.build("lenet5", widths=(1, 2))


def test_presets_are_fixed_not_options():
    assert "depth" not in registry.get("vgg16").options
    with pytest.raises(TypeError):
        registry.build("vgg16", depth=19)
    assert registry.get("resnet50").options == {"num_classes": 1000, "width_per_group": 64}
    assert "depth" not in registry.get("vgg16_lecture").options
    assert registry.get("vgg16_lecture").options["batch_norm"] is False


def test_builders_take_keyword_options_and_input_size():
    with torch.device("meta"):
        m = registry.build("alexnet_lecture", input_size=(1, 227, 227), num_classes=10)
    assert m.conv1.in_channels == 1
    assert m.fc8.out_features == 10
    with torch.device("meta"):
        m = registry.build("resnet18", num_classes=7)
    assert m.fc.out_features == 7


@pytest.mark.parametrize(
    ("name", "size"),
    [("lenet5", None), ("alexnet_lecture", None), ("resnet18", (3, 160, 160)), ("googlenet", None)],
)
def test_parameter_count_is_torchinfos_total(name: str, size: tuple[int, int, int] | None) -> None:
    """The count the effective field's limit reads (a meta build's parameters) is the layer
    table's total (torchinfo, through the analysis engine): the oracle it replaced."""
    from cnnviz.analysis import analyze

    assert registry.get(name).parameter_count(size) == analyze(name, size).total_params
