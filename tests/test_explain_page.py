"""The Explain page in AppTest: the default model's views, another digit, a class from the
top 5, the sanity check as a job with its lesson, the ImageNet source without weights, and a
session's fine-tuned model."""

from __future__ import annotations

import time

import torch
from torch import nn

from cnnviz.data import digits
from cnnviz.explain import default_model, models
from cnnviz.explain.models import predict
from cnnviz.train import TrainedModel

PAGE = "pages/explain.py"


def target_box(at):
    return next(s for s in at.selectbox if s.label == "Explain the class")


def charts(at) -> set[str]:
    return {c.proto.id for c in at.get("plotly_chart")}


def test_default_model_shows_every_view(open_page):
    at = open_page(PAGE)
    assert at.title[0].value == "Explain"
    assert len(at.get("plotly_chart")) >= 6  # top 5, overlays, filters x3, feature maps
    assert any(
        "Integrated Gradients" in c.value and "convergence delta" in c.value for c in at.caption
    )
    # The prediction for the first validation digit comes first in the class picker.
    model, x, _ = digit(0)
    assert target_box(at).value == predict(model, x)[0][0]
    at.number_input(key="explain_digit").set_value(5).run()
    assert not at.exception
    model, x, _ = digit(5)
    top = predict(model, x)
    target = target_box(at)
    assert target.value == top[0][0]
    assert target.options == [f"{name} ({p:.1%})" for _, name, p in top]
    target.set_value(top[1][0]).run()  # explain the runner-up class instead
    assert not at.exception
    assert target_box(at).value == top[1][0]


def digit(i: int):
    model = models.default()
    k = int(default_model.split()[1][i])
    return model, model.preprocess(digits(32).images[k]), k


def test_sanity_check_runs_as_a_job_and_draws_the_lesson(open_page):
    at = open_page(PAGE)
    at.button(key="explain_sanity_job_start").click().run()
    for _ in range(60):
        if any("explains the image, not the model" in m.value for m in at.markdown):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception
    assert any("explains the image, not the model" in m.value for m in at.markdown)


def test_imagenet_source_says_which_file_is_missing(open_page):
    at = open_page(PAGE)
    at.radio(key="explain_source").set_value("imagenet").run()
    assert not at.exception
    assert any("resnet18-f37072fd.pth" in i.value for i in at.info)


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(8, 3),
    ).eval()  # fmt: skip


def test_a_sessions_fine_tuned_model(open_page):
    at = open_page(PAGE)
    trained = TrainedModel(tiny(), ["cat", "dog", "fox"], "tiny", 32, [0.5] * 3, [0.25] * 3)
    at.session_state["transfer_learning_trained"] = trained
    at.run()
    at.radio(key="explain_source").set_value("trained").run()
    assert not at.exception
    assert {o.split()[0] for o in target_box(at).options} == {"cat", "dog", "fox"}
    assert len(at.get("plotly_chart")) >= 6


def test_a_deeper_filter_and_its_feature_map(open_page):
    at = open_page(PAGE)
    at.selectbox(key="explain_conv_lenet5_digits").set_value("c3").run()
    assert not at.exception
    assert at.slider(key="explain_filter_lenet5_digits").max == 15  # c3 has 16 filters
    at.slider(key="explain_filter_lenet5_digits").set_value(15).run()
    assert not at.exception


def test_an_imagenet_network_with_random_weights_runs_slow_methods_as_a_job(open_page):
    at = open_page(PAGE)
    at.radio(key="explain_source").set_value("imagenet").run()
    at.toggle(key="explain_random").set_value(True).run()
    assert not at.exception
    at.number_input(key="explain_steps").set_value(2).run()
    assert not at.exception
    # Saliency and Grad-CAM at once; Integrated Gradients waits for its button (a job).
    assert [b.label for b in at.button if b.key == "explain_maps_job_start"] == [
        "Compute Integrated Gradients"
    ]
    at.button(key="explain_maps_job_start").click().run()
    for _ in range(120):
        if any("convergence delta" in c.value for c in at.caption):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception
    assert any("Integrated Gradients 1x3x224x224" in c.value for c in at.caption)
