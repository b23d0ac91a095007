"""AppTest smoke test of every page in the navigation, with one widget changed per page,
plus the architecture pages' live behavior (numbers follow the widgets, the quiz checks)."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.ui.navigation import PAGES
from tests.page_text import page_text


def change_one_widget(at: AppTest) -> str:
    """Change the first widget a student would touch; returns what was changed."""
    if at.number_input:
        w = at.number_input[0]
        w.set_value(w.value + (w.step or 1)).run()
        return f"number_input {w.label}"
    for kind in ("selectbox", "radio"):
        widgets = getattr(at, kind)
        if widgets and len(widgets[0].options) > 1:
            w = widgets[0]
            w.set_value(w.options[1]).run()
            return f"{kind} {w.label}"
    if at.toggle:
        at.toggle[0].set_value(not at.toggle[0].value).run()
        return "toggle"
    if at.slider:
        w = at.slider[0]
        w.set_value(w.max).run()
        return "slider"
    pytest.fail("page has no widget to change")


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_every_page_runs_and_survives_a_widget_change(open_page, page):
    at = open_page(page.path)
    if page.default:  # the home page has a chart and links, not inputs
        assert at.title[0].value.startswith("CNN architectures")
        return
    changed = change_one_widget(at)
    assert not at.exception, (changed, [e.value for e in at.exception])


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_lenet_paper_variant_and_c3_table(open_page):
    at = open_page("pages/lenet.py")
    assert metric(at, "Parameters") == "61,706"
    at.toggle(key="lenet_c3_modern").set_value(True).run()
    assert metric(at, "Parameters") == "60,806"
    at.radio(key="lenet_variant").set_value("paper").run()
    assert at.toggle(key="lenet_c3_paper").value  # the paper's variant starts with its table
    assert metric(at, "Trainable") == "60,000"
    assert any("1,516" in m.value for m in at.markdown)
    assert any("The paper's network" in i.value for i in at.info)
    # Switching the table off is no longer the paper's network: hand-computed from the
    # lecture's rows, 60,000 - 1,516 + 2,416 = 60,900.
    at.toggle(key="lenet_c3_paper").set_value(False).run()
    assert metric(at, "Trainable") == "60,900"
    (info,) = at.info
    assert "The paper's network" not in info.value
    assert "C3 fully connected" in info.value and "60,900" in info.value
    assert "900 more than the paper's 60,000" in info.value
    assert "2,416 instead of 1,516" in info.value
    at.number_input(key="lenet_hw").set_value(36).run()
    assert "for 32x32x1 with the C3 table" in at.info[0].value


def test_alexnet_input_size_changes_the_numbers_and_warns(open_page):
    at = open_page("pages/alexnet.py")
    assert metric(at, "Parameters") == "62,378,344"
    at.number_input(key="alexnet_alexnet_lecture_hw").set_value(224).run()
    assert not at.exception
    assert any("never seen by CONV1" in w.value for w in at.warning)
    at.number_input(key="alexnet_alexnet_lecture_hw").set_value(30).run()
    assert at.error and "too small" in at.error[0].value


def test_alexnet_variants(open_page):
    at = open_page("pages/alexnet.py")
    assert not any("adaptive" in i.value for i in at.info)
    at.radio(key="alexnet_variant").set_value("alexnet_paper").run()
    assert metric(at, "Parameters") == "60,965,224"
    at.radio(key="alexnet_variant").set_value("alexnet").run()
    assert metric(at, "Parameters") == "61,100,840"
    # torchvision's adaptive pool: FC sizes fixed, FC6..FC8 = 9216*4096 + 4096 + 4096*4096
    # + 4096 + 4096*1000 + 1000 = 58,631,144 parameters at any input.
    at.number_input(key="alexnet_alexnet_hw").set_value(100).run()
    assert metric(at, "Parameters") == "61,100,840"
    note = next(i.value for i in at.info if "adaptive" in i.value)
    assert "2x2x256" in note and "6x6x256" in note and "58,631,144" in note


def test_quiz_checks_then_reveals(open_page):
    at = open_page("pages/alexnet.py")
    assert any("CONV1 applies 96 11x11 filters at stride 4" in m.value for m in at.markdown)
    at.text_input(key="alexnet_vol").input("55x55x96")
    at.text_input(key="alexnet_par").input("34000")  # neither 34,944 nor the weights-only 34,848
    at.button[0].click().run()  # "Check my answer"
    assert [s.value for s in at.success] == ["Output volume: right."]
    assert any("Parameters: not quite" in e.value for e in at.error)
    assert any("11*11*3*96 + 96 = 34,944" in m.value for m in at.markdown)


def test_quiz_question_follows_the_variant(open_page):
    at = open_page("pages/alexnet.py")
    at.selectbox(key="alexnet_q").set_value(2).run()  # CONV2
    at.radio(key="alexnet_variant").set_value("alexnet_paper").run()
    assert any("256 5x5 filters at stride 1, pad 2 in 2 groups" in m.value for m in at.markdown)


def test_vgg_depth_bn_and_memory(open_page):
    at = open_page("pages/vgg.py")
    assert not at.toggle(key="vgg_adaptive").value  # the lecture's VGG by default
    assert metric(at, "Parameters") == "138,357,544"
    assert any("(**89%**)" in m.value for m in at.markdown)
    assert any("15,237,608 values = 61 MB" in m.value for m in at.markdown)
    assert any("96MB" in w.value for w in at.warning)  # the erratum
    at.toggle(key="vgg_bn").set_value(True).run()
    assert metric(at, "Parameters") == "138,365,992"


def test_vgg_fc_sizes_follow_the_input_unless_torchvisions_pool(open_page):
    at = open_page("pages/vgg.py")
    assert any("7x7x512" in m.value and "102,764,544" in m.value for m in at.markdown)
    # At 32 px pool5 is 1x1x512: FC6 = 512*4096 + 4096 = 2,101,248 instead of
    # 25088*4096 + 4096 = 102,764,544, so 138,357,544 - 102,764,544 + 2,101,248.
    at.number_input(key="vgg_hw").set_value(32).run()
    assert metric(at, "Parameters") == "37,694,248"
    assert any("1x1x512" in m.value and "2,101,248" in m.value for m in at.markdown)
    at.toggle(key="vgg_adaptive").set_value(True).run()
    assert metric(at, "Parameters") == "138,357,544"  # torchvision: fixed at any input
    note = next(i.value for i in at.info if "adaptive" in i.value)
    assert "1x1x512" in note and "7x7x512" in note and "123,642,856" in note


def test_googlenet_modules_and_358m(open_page):
    at = open_page("pages/googlenet.py")
    macs = [m.value for m in at.metric if m.label == "MACs"]
    assert macs == ["854,196,224", "271,351,808"]
    # 271,351,808 / 854,196,224 = 0.318: 68% fewer, in words (never '-68% vs naive')
    delta = next(m for m in at.metric if m.label == "MACs" and m.delta)
    assert delta.delta == "68% fewer than naive"
    assert any(
        "22 layers with parameters" in m.value and "9 Inception" in m.value for m in at.markdown
    )
    assert any("358M" in w.value for w in at.warning)
    # 12x is the paper's own claim, not an erratum; torchvision's count is a note beside it.
    assert not any("12x" in w.value for w in at.warning)
    claim = next(m.value for m in at.markdown if "The paper's claim" in m.value)
    assert "12x fewer parameters than AlexNet" in claim and "6,624,904" in claim
    assert f"{61_100_840 / 6_624_904:.1f}x fewer than torchvision's" in claim


def test_resnet_blocks_and_weight_decay_erratum(open_page):
    at = open_page("pages/resnet.py")
    assert metric(at, "Parameters") == "25,557,032"
    # He et al., Fig. 5, hand-computed: basic 56*56*(64*64*9)*2, bottleneck 56*56*(256*64 +
    # 64*64*9 + 64*256); parameters with batch norm: 73,728 + 256 and 69,632 + 768.
    same_cost = next(m.value for m in at.markdown if "Fig. 5" in m.value)
    assert "231,211,008" in same_cost and "218,365,952" in same_cost
    assert "73,984" in same_cost and "70,400" in same_cost and "4x the input depth" in same_cost
    assert "3,699,376,128" not in same_cost
    (what_if,) = at.expander
    assert "What if" in what_if.label and "no ResNet does this" in what_if.label
    assert any("3,699,376,128" in m.value for m in what_if.markdown)  # 56*56*256*256*9*2
    assert any("1e-5" in w.value and "1e-4" in w.value for w in at.warning)
    at.number_input(key="resnet_block_c").set_value(512).run()
    at.number_input(key="resnet_block_hw").set_value(28).run()
    same_cost = next(m.value for m in at.markdown if "Fig. 5" in m.value)
    assert f"{28 * 28 * 128 * 128 * 9 * 2:,}" in same_cost
    assert f"{28 * 28 * (512 * 128 * 2 + 128 * 128 * 9):,}" in same_cost


def test_resnet_cites_he_et_al_one_way(open_page):
    """One paper, one citation: its arXiv year (2015), as the lecture cites it."""
    text = page_text(open_page("pages/resnet.py"))
    years = set(re.findall(r"He et al\.?,? \(?(\d{4})", text))
    assert years == {"2015"}


def test_the_bottleneck_chain_never_breaks():
    """'1x1 → 3x3 → 1x1' is glued with no-break spaces (a projector's column once broke it)."""
    from cnnviz import facts

    (fact,) = [f for f in facts.KEY_FACTS["ResNet"] if "bottleneck block" in f]
    chain = fact[fact.index("1x1") :]
    assert chain.split("\u00a0") == ["1x1", "→", "3x3", "→", "1x1"] and " " not in chain


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_every_page_imports_the_ui_package_that_routes_first_visits(page):
    # cnnviz.ui sends a first visit to /page on a fresh server through app.py's navigation
    source = (Path(__file__).resolve().parents[1] / page.path).read_text()
    assert "import cnnviz.ui" in source or "from cnnviz.ui" in source
