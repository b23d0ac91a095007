"""The bounds a student can hit (each concept's limits module), enforced by the library and
shown by the pages."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib

import pytest
import torch

import cnnviz
from cnnviz import layer_limits, limits, model_limits
from cnnviz.analysis import analyze, analyze_module
from cnnviz.data import limits as data_limits
from cnnviz.errors import OutOfBounds
from cnnviz.layer_calculator import layer_arithmetic
from cnnviz.layer_fit import LayerSpec
from cnnviz.receptive_field import field_calls_of
from cnnviz.train import BACKBONES, weights_file_mb
from cnnviz.train.backbones import spec
from cnnviz.ui.navigation import PAGES
from tests.conftest import ROOT

# Each concept keeps its bounds beside it: cnnviz.<concept>.limits or cnnviz.<concept>_limits
# (the shared types and the upload's bound in cnnviz.limits).
LIMITS_MODULES = [
    importlib.import_module(m.name)
    for m in pkgutil.walk_packages(cnnviz.__path__, "cnnviz.")
    if m.name.rsplit(".", 1)[-1] == "limits" or m.name.endswith("_limits")
]
BOUNDS = {
    f"{module.__name__}.{name}": v
    for module in LIMITS_MODULES
    for name, v in vars(module).items()
    if isinstance(v, (limits.Limit, limits.Span))
}
# cnnviz.limits held all 79 bounds in one module before they moved beside their concepts;
# issue 21 added the store's size (cnnviz.store.limits.STORE_MB).
BOUND_COUNT = 80
ALL_LIMITS = {(v.low, v.high): name for name, v in BOUNDS.items() if isinstance(v, limits.Limit)}
FLOAT_LIMITS = {(v.low, v.high): name for name, v in BOUNDS.items() if isinstance(v, limits.Span)}


def test_every_bound_is_defined_once_in_a_limits_module() -> None:
    """No bound got lost in the split, none is defined (or re-exported) twice, and no module
    outside the limits modules defines one of its own."""
    names = [qualified.rsplit(".", 1)[-1] for qualified in BOUNDS]
    assert len(BOUNDS) == BOUND_COUNT, sorted(BOUNDS)
    assert len({id(v) for v in BOUNDS.values()}) == BOUND_COUNT  # no re-export
    assert len(set(names)) == BOUND_COUNT, sorted(names)  # one name, one bound
    assert {m.__name__ for m in LIMITS_MODULES} >= {
        "cnnviz.limits",
        "cnnviz.model_limits",
        "cnnviz.layer_limits",
        "cnnviz.augment.limits",
        "cnnviz.data.limits",
        "cnnviz.experiments.limits",
        "cnnviz.explain.limits",
        "cnnviz.receptive_field.limits",
        "cnnviz.train.limits",
    }
    known = {id(v) for v in BOUNDS.values()}
    for info in pkgutil.walk_packages(cnnviz.__path__, "cnnviz."):
        if info.name == "cnnviz.__main__":  # runs the command line
            continue
        module = importlib.import_module(info.name)
        for name, v in vars(module).items():
            if isinstance(v, (limits.Limit, limits.Span)):
                assert id(v) in known, f"{info.name}.{name} is a bound outside a limits module"


def test_a_limit_names_its_range_and_refuses_what_is_outside() -> None:
    assert layer_limits.KERNEL.check(32) == 32
    with pytest.raises(OutOfBounds, match="kernel size is 33: it must be from 1 to 32") as err:
        layer_limits.KERNEL.check(33)
    assert err.value.hint == "Use a value from 1 to 32."
    for bad in (True, 2.5, "3", float("nan"), float("inf")):
        with pytest.raises(OutOfBounds, match="whole number"):
            layer_limits.KERNEL.check(bad)
    side = model_limits.INPUT_SIDE
    assert side.bounds == {"min_value": 1, "max_value": 2048, "help": side.help}
    assert "2,048" in model_limits.INPUT_SIDE.help


@pytest.mark.parametrize(
    ("name", "size", "options", "message"),
    [
        ("alexnet_lecture", (3, 16000, 16000), {}, "input height is 16,000"),
        ("alexnet_lecture", (3, 227, 100000), {}, "input width is 100,000"),
        ("vgg16", (5000, 224, 224), {}, "input depth"),
        ("vgg16", (3, 0, 224), {}, "input height is 0"),
        ("resnet_basic_block", (256, 56, 56), {"planes": 100_000}, r"filters \(planes\)"),
        ("inception_naive", (256, 28, 28), {"c3x3": 0}, r"\(c3x3\) is 0"),
        ("resnet_bottleneck_block", (256, 56, 56), {"stride": 100}, "stride"),
    ],
)
def test_analysis_and_fields_refuse_out_of_bounds(name, size, options, message) -> None:
    with pytest.raises(OutOfBounds, match=message):
        analyze(name, size, **options)
    with pytest.raises(OutOfBounds, match=message):
        field_calls_of(name, size, **options)


def test_the_limits_themselves_are_accepted() -> None:
    a = analyze("resnet_basic_block", (4096, 2048, 2048), planes=4096)
    # One 3x3 conv of 4096 -> 4096 filters on 2048x2048, twice: the meta analysis computes it.
    assert a.total_macs == 2 * 3 * 3 * 4096 * 4096 * 2048 * 2048


def test_layer_calculator_refuses_above_the_limits_and_explains_below() -> None:
    with pytest.raises(OutOfBounds, match="kernel size is 300"):
        layer_arithmetic(LayerSpec(kernel=300))
    with pytest.raises(OutOfBounds, match="dilation is 5"):
        layer_arithmetic(LayerSpec(kernel=3, dilation=5))
    with pytest.raises(OutOfBounds, match="input width is 5,000"):
        layer_arithmetic(LayerSpec(width=5000))
    # Below the lower limits the calculator keeps explaining the setting as a problem.
    assert any("kernel size is 0" in p for p in layer_arithmetic(LayerSpec(kernel=0)).problems)
    # At the upper limits it still answers (and agrees with torch's own arithmetic).
    spec = LayerSpec(height=2048, width=2048, kernel=32, stride=64, padding=64, dilation=4)
    edge = layer_arithmetic(spec)
    conv = torch.nn.Conv2d(3, 96, 32, stride=64, padding=64, dilation=4, device="meta")
    assert edge.output[:2] == tuple(conv(torch.empty(1, 3, 2048, 2048, device="meta")).shape[-2:])


def test_an_allocation_the_machine_refuses_is_a_clear_error() -> None:
    class Greedy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + torch.empty(2**45, device="cpu").sum()  # 128 TiB: refused at once

    with pytest.raises(OutOfBounds, match="more memory than this server") as err:
        analyze_module(Greedy(), (3, 8, 8), "greedy")
    assert "larger" not in err.value.hint and "allocate" not in str(err.value)


@pytest.mark.parametrize("page", [p for p in PAGES if not p.default], ids=lambda p: p.title)
def test_every_number_input_of_every_page_is_bounded_by_a_limit(open_page, page) -> None:
    at = open_page(page.path)
    for widget in at.number_input:
        if isinstance(widget.value, float):  # a learning rate, a fraction
            low, high = float(widget.min), float(widget.max)
            assert (low, high) in FLOAT_LIMITS, f"{page.title}: {widget.label} is not in limits"
            assert f"From {low:g} to {high:g}" in widget.help, widget.label
            continue
        bounds = (int(widget.min), int(widget.max))
        assert bounds in ALL_LIMITS, f"{page.title}: {widget.label} {bounds} is not in limits"
        low, high = (f"{v:,}" for v in bounds)
        assert f"From {low} to {high}" in widget.help, widget.label


def test_receptive_field_page_refuses_an_effective_field_too_large_to_run(open_page) -> None:
    at = open_page("pages/receptive_field.py")
    at.selectbox(key="receptive_field_model").set_value("inception_naive").run()
    for axis in ("h", "w"):
        at.number_input(key=f"receptive_field_{axis}_inception_naive").set_value(512)
    at.run()
    assert not at.exception
    # The theoretical field (meta device) is shown; the effective one (real weights on a
    # 512x512x256 input: 67 M values) is refused with the limit, not attempted.
    assert any(m.label.startswith("Receptive field") for m in at.metric)
    assert any("1,048,576" in e.value for e in at.error), [e.value for e in at.error]


def test_the_upload_limit_is_the_servers() -> None:
    """Streamlit refuses an upload over server.maxUploadSize whatever the widget says: the
    pages' limit (help texts, the weights uploader) is the config's number."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == data_limits.UPLOAD_MB.high


def test_the_command_line_reads_every_backbones_weights() -> None:
    """What the page cannot take (VGG-16's 528 MB) the CLI reads from disk."""
    largest = max(weights_file_mb(spec(name)) for name in BACKBONES)
    assert largest > data_limits.UPLOAD_MB.high
    assert data_limits.WEIGHTS_FILE_BYTES.high >= largest * 2**20
