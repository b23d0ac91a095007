"""Predict-then-reveal questions: wording from the live model, answer checking, worked formulas."""

import pytest
from formula_check import assert_consistent, worked_length

from cnnviz import registry
from cnnviz.analysis import analyze
from cnnviz.errors import CnnvizError
from cnnviz.quiz import check_params, check_volume, parse_count, parse_volume, questions


def test_alexnet_conv1_question_is_the_slides():
    q = questions(analyze("alexnet_lecture"))[0]
    assert q.prompt.startswith("CONV1 applies 96 11x11 filters at stride 4, pad 0 to a 227x227x3")
    assert q.volume == (55, 55, 96)
    assert q.params == 34_944
    assert "(227 - 11 + 2*0)/4 + 1 = 55" in q.volume_work
    assert q.params_work == "11*11*3*96 + 96 = 34,944"
    assert "105,415,200" in q.macs_work


def test_pool_question_has_no_parameters():
    q = questions(analyze("alexnet_lecture"))[1]
    assert q.layer == "pool1" and q.volume == (27, 27, 96) and q.params == 0
    assert "(55 - 3 + 2*0)/2 + 1 = 27" in q.volume_work


def test_question_follows_the_input_size():
    q = questions(analyze("alexnet_lecture", (3, 224, 224)))[0]
    assert "to a 224x224x3 input" in q.prompt
    assert q.volume == (54, 54, 96)
    assert "(224 - 11 + 2*0)/4 + 1 = 54.25, floored to 54" in q.volume_work


def test_grouped_and_connection_table_questions():
    conv2 = questions(analyze("alexnet_paper"))[2]
    assert "in 2 groups" in conv2.prompt and conv2.params == 307_456
    assert conv2.params_work == "5*5*(96/2)*256 + 256 = 307,456"
    c3 = next(q for q in questions(analyze("lenet5_paper")) if q.layer == "c3")
    assert c3.params == 1_516 and "60 connected input maps" in c3.params_work


def test_fc_and_bias_free_questions():
    fc6 = next(q for q in questions(analyze("alexnet_lecture")) if q.layer == "fc6")
    assert fc6.volume == (4096,) and fc6.params_work == "9,216*4,096 + 4,096 = 37,752,832"
    conv1 = questions(analyze("resnet18"))[0]
    assert conv1.params_work == "7*7*3*64 = 9,408"  # torchvision's ResNet convs have no bias


def test_answers_are_checked_leniently_but_not_wrongly():
    q = questions(analyze("alexnet_lecture"))[0]
    assert check_volume(q, "55x55x96") and check_volume(q, "55 x 55 x 96")
    assert not check_volume(q, "55x55x3") and not check_volume(q, "fifty")
    assert check_params(q, "34,944") and check_params(q, "34944") and check_params(q, "35K")
    assert check_params(q, "34,944").note == ""
    assert not check_params(q, "40K") and not check_params(q, "")


def test_c_h_w_is_named_not_accepted():
    q = questions(analyze("alexnet_lecture"))[0]
    verdict = check_volume(q, "96,55,55")
    assert not verdict and verdict.note == "that is C x H x W; the lecture writes H x W x C"
    lenet_c1 = questions(analyze("lenet5_paper"))[0]
    assert not check_volume(lenet_c1, "6x28x28") and check_volume(lenet_c1, "28x28x6")


def test_weights_only_count_is_accepted_with_a_note():
    """One convention (parameters = weights + biases), stated where the number is asked; the
    weights-only count (the 3x3-stacking page's) is right too, and the note says which it is."""
    q = questions(analyze("alexnet_lecture"))[0]
    assert "weights + biases" in q.prompt
    verdict = check_params(q, "34,848")
    assert verdict and verdict.note == (
        "34,848 counts the weights only; with the 96 biases it is 34,944"
    )
    c1 = questions(analyze("lenet5_paper"))[0]
    assert check_params(c1, "150").note.endswith("with the 6 biases it is 156")
    resnet_conv1 = questions(analyze("resnet18"))[0]  # no biases: one count only
    assert resnet_conv1.weights is None and check_params(resnet_conv1, "9,408").note == ""


def test_rbf_output_has_connections_not_trainable_parameters():
    rbf = next(q for q in questions(analyze("lenet5_paper")) if q.layer == "output")
    assert rbf.params == 0 and "Trainable parameters?" in rbf.prompt
    assert "840 connections" in rbf.params_work and rbf.params_work.endswith("= 0")
    assert check_params(rbf, "0") and not check_params(rbf, "840")


def test_ceil_mode_pool_is_worked_and_checked_in_ceil_mode():
    """GoogLeNet's maxpool1 at 224 rounds up in PyTorch: 56x56x64, and the text says so."""
    q = next(q for q in questions(analyze("googlenet")) if q.layer == "maxpool1")
    assert "ceil mode" in q.prompt
    assert "(112 - 3 + 2*0)/2 + 1 = 55.50, ceil mode rounds up to 56" in q.volume_work
    assert q.volume == (56, 56, 64) and check_volume(q, "56x56x64")
    assert not check_volume(q, "55x55x64")


def test_parsers():
    assert parse_volume("13 x 13 x 384") == (13, 13, 384)
    assert parse_volume("4096") == (4096,)
    assert parse_count("62.4M") == (62_400_000.0, True)
    assert parse_count("1,516") == (1516.0, False)
    assert parse_count("abc") is None


# --- Every question of every registered model, at its default input and two others.


def accepted_sizes(name: str) -> list[tuple[int, int, int]]:
    """The default input and the first two other sizes the model accepts (one not square)."""
    c, h, w = registry.get(name).default_input
    sizes = [(c, h, w)]
    for other in ((c, h + 13, w + 13), (c, h + 32, w + 7), (c, 2 * h, 2 * w), (c, h + 1, w)):
        if len(sizes) == 3:
            break
        try:
            analyze(name, other)
        except (CnnvizError, ValueError, RuntimeError):
            continue
        sizes.append(other)
    return sizes


def check_question(q, layer) -> None:
    """The worked texts evaluate as written and end on the question's own answers."""
    if len(q.volume) == 3:
        h, w, c = q.volume
        axes, _, rest = q.volume_work.partition("; ")
        if axes.startswith("H: "):
            height, width = axes[3:], rest.partition("; ")[0][3:]
        else:
            height = width = axes
        assert (worked_length(height), worked_length(width)) == (h, w), q.volume_work
        assert q.volume_work.endswith(f"-> {h}x{w}x{c}")
        assert check_volume(q, f"{h}x{w}x{c}")
    else:
        assert q.volume_work.endswith(f"{q.volume[0]:,}")
    no_params = "pooling has no parameters: 0"
    assert q.params_work.endswith(f"= {q.params:,}") or q.params_work == no_params
    assert q.params in (layer.params, layer.trainable_params)
    if " = " in q.params_work:
        assert_consistent(q.params_work)
    if " = " in q.macs_work:
        assert_consistent(q.macs_work)
        assert f"= {layer.macs:,} MACs" in q.macs_work
    assert check_params(q, f"{q.params:,}") and check_params(q, str(q.params))
    if q.weights is not None:
        assert check_params(q, f"{q.weights:,}").note


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_every_question_of_every_model_is_consistent(name):
    sizes = accepted_sizes(name)
    assert len(sizes) == 3, f"{name}: only {sizes} accepted"
    asked = 0
    for size in sizes:
        a = analyze(name, size)
        for q in questions(a):
            check_question(q, a.layer(q.layer))
            asked += 1
    assert asked >= 3


# --- The quiz on a page (AppTest): notes, and fields emptied for a new layer.


@pytest.mark.slow
def test_quiz_on_the_alexnet_page(open_page):
    at = open_page("pages/alexnet.py")
    at.text_input(key="alexnet_vol").input("96x55x55")
    at.text_input(key="alexnet_par").input("34,848")
    next(b for b in at.button if b.label == "Check my answer").click().run()
    assert not at.exception
    shown = [e.value for e in at.error] + [s.value for s in at.success]
    assert (
        "Output volume: not quite (that is C x H x W; the lecture writes H x W x C)" in (shown[0])
    )
    assert any(
        "34,848 counts the weights only; with the 96 biases it is 34,944" in s for s in shown
    )
    working = "\n".join(m.value for m in at.markdown)
    assert "`11*11*3*96 + 96 = 34,944`" in working
    at.selectbox(key="alexnet_q").set_value(1).run()  # POOL1
    assert at.text_input(key="alexnet_vol").value == ""
    assert at.text_input(key="alexnet_par").value == ""


@pytest.mark.slow
def test_quiz_fields_empty_when_the_variant_changes_the_question(open_page):
    at = open_page("pages/alexnet.py")

    def answer(volume: str) -> None:  # the fields are in a form: their value counts on submit
        at.text_input(key="alexnet_vol").input(volume)
        next(b for b in at.button if b.label == "Check my answer").click().run()

    answer("55x55x96")
    at.radio(key="alexnet_variant").set_value("alexnet_paper").run()
    assert at.text_input(key="alexnet_vol").value == "55x55x96"  # the same CONV1 question
    at.selectbox(key="alexnet_q").set_value(2).run()
    assert at.text_input(key="alexnet_vol").value == ""  # another layer
    answer("27x27x256")
    at.radio(key="alexnet_variant").set_value("alexnet_lecture").run()  # CONV2 loses its groups
    assert at.text_input(key="alexnet_vol").value == ""
