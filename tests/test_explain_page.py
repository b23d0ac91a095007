"""The Explain page in AppTest: the default model's views, another digit, a class from the
top 5, the sanity check as a job with its lesson, the ImageNet source without weights, a
session's fine-tuned model with its validation images (mistakes first), and the note when
Grad-CAM's layer is coarser than 4x4."""

from __future__ import annotations

import tempfile
import time

import pytest
import torch
import torchvision
from torch import nn

from cnnviz import images, weights
from cnnviz.data import digits
from cnnviz.explain import default_model, models, sanity
from cnnviz.explain.attribution import METHODS, Params
from cnnviz.explain.models import predict
from cnnviz.jobs import default_runner
from cnnviz.train import FinetuneConfig, TrainedModel, finetune
from tests.page_text import page_text, server_paths_shown

PAGE = "pages/explain.py"


def target_box(at):
    return next(s for s in at.selectbox if s.label == "Explain the class")


def charts(at) -> set[str]:
    return {c.proto.id for c in at.get("plotly_chart")}


def test_default_model_shows_every_view(open_page):
    at = open_page(PAGE)
    assert at.title[0].value == "Explain"
    # top 5, one chart per default method (3), filters x3, feature maps
    assert len(at.get("plotly_chart")) >= 8
    assert {"explain_overlay_saliency", "explain_overlay_integrated_gradients",
            "explain_overlay_gradcam"} <= chart_keys(at)  # fmt: skip
    words = next(c.value for c in at.caption if c.value.startswith("Explaining"))
    assert "one 32x32 grayscale image" in words and "1x1x32x32" not in words
    assert "Integrated Gradients" in words and "add up to the score's change within" in words
    # Grad-CAM's coarse grid, in one line; the digit's caption says the index typed.
    cam = "layer s4, a 5x5 grid, stretched to 32x32 px"
    assert any(cam in c.value and "not which stroke" in c.value for c in at.caption)
    assert captions(at)[0].startswith("validation digit 0, labeled ")
    # The prediction for the first validation digit comes first in the class picker.
    model, x, _ = digit(0)
    assert target_box(at).value == predict(model, x)[0][0]
    at.number_input(key="explain_digit").set_value(5).run()
    assert not at.exception
    assert captions(at)[0].startswith("validation digit 5, labeled ")
    model, x, _ = digit(5)
    top = predict(model, x)
    target = target_box(at)
    assert target.value == top[0][0]
    assert target.options == [f"{name} ({p:.1%})" for _, name, p in top]
    target.set_value(top[1][0]).run()  # explain the runner-up class instead
    assert not at.exception
    assert target_box(at).value == top[1][0]


def chart_keys(at) -> set[str]:
    return {c.proto.id.split("-")[-1] for c in at.get("plotly_chart")} | {
        c.key for c in at.get("plotly_chart") if getattr(c, "key", None)
    }


def captions(at) -> list[str]:
    return [i.caption for e in at.get("image") for i in e.proto.imgs]


def digit(i: int):
    model = models.default()
    k = int(default_model.split()[1][i])
    return model, model.preprocess(digits(32).images[k]), k


def test_sanity_check_runs_as_a_job_and_draws_the_lesson(open_page):
    at = open_page(PAGE)
    at.number_input(key="explain_seed").set_value(2).run()
    at.button(key="explain_sanity_job_start").click().run()
    for _ in range(120):
        if any("explains the image, not the model" in m.value for m in at.markdown):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception
    text = next(m.value for m in at.markdown if "explains the image, not the model" in m.value)
    assert "every method's map changed" not in text
    # The text follows this run's numbers: the same check in the library, with seed 2.
    model, x, _ = digit(0)
    target = target_box(at).value
    params = Params(layer="s4", seed=2)
    result = sanity.cascading_randomization(
        model, x, ["saliency", "guided_backprop", "gradcam"], params, target
    )
    assert text == sanity.verdict_text(result, METHODS)
    assert "explain_sanity_grid" in chart_keys(at)


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
        if any("add up to the score's change" in c.value for c in at.caption):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception
    assert any("one 224x224 color image" in c.value for c in at.caption)


# --- a fine-tuned model with its validation images, and Grad-CAM's coarse layers ------------
SIDE = 16  # the run's image side: resnet18's layer2 is 2x2 there, layer1 4x4


@pytest.fixture(scope="module")
def digits_run():
    """A real transfer-learning run on scikit-learn's digits, started through the job runner as
    the Transfer learning page starts it (random init, linear probe, one epoch, 16 px): its
    session key, the job and its result."""
    from cnnviz.data import digits as load_digits

    data = load_digits(SIDE)
    config = FinetuneConfig(
        backbone="resnet18", weights="none", strategy="linear", epochs=1, image_size=SIDE,
        device="cpu",
    )  # fmt: skip
    key = "explain-test-digits"
    handle = default_runner().submit(finetune, data, config, session=key, device="cpu")
    result = handle.result(timeout=300)
    return key, handle, result, data


def with_run(at, run, dataset=None):
    """The AppTest's session as the Transfer learning page leaves it after `run`."""
    key, handle, result, _ = run
    at.session_state["_cnnviz_owner"] = key  # cnnviz.ui.jobs._OWNER_STATE: the same browser
    at.session_state["transfer_learning_trained"] = result.trained()
    at.session_state["transfer_learning_trained_job"] = handle.id
    if dataset is not None:
        at.session_state["transfer_learning_dataset"] = (("uploaded",), dataset)
    at.run()
    at.radio(key="explain_source").set_value("trained").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def expected_groups(result, labels) -> list[list[tuple[int, int]]]:
    """The oracle: per true class, (dataset index, prediction), the mistakes first."""
    groups = [[] for _ in result.classes]
    for i, p in zip(result.val_indices, result.val_predictions, strict=True):
        groups[int(labels[i])].append((i, p))
    return [sorted(g, key=lambda ip: (ip[1] == labels[ip[0]], ip[0])) for g in groups]


def test_fine_tuned_model_offers_its_validation_images_mistakes_first(open_page, digits_run):
    _, _, result, data = digits_run
    at = with_run(open_page(PAGE), digits_run)
    labels = data.labels.tolist()
    groups = expected_groups(result, labels)
    image = at.selectbox(key="explain_image_trained")
    assert image.value == "A validation image (your dataset)"
    assert image.options[1:] == [*images.PHOTOS, "Upload your own"]
    classes = at.selectbox(key="explain_val_class")
    wrong = [sum(p != k for _, p in g) for k, g in enumerate(groups)]
    assert classes.options == [
        f"{name}: {len(g):,} images, {w:,} misclassified"
        for name, g, w in zip(result.classes, groups, wrong, strict=True)
    ]
    first = next(k for k, w in enumerate(wrong) if w)  # it opens on a class with mistakes
    assert classes.value == first
    for k in (first, next(k for k, w in enumerate(wrong) if w < len(groups[k]) and k != first)):
        at.selectbox(key="explain_val_class").set_value(k).run()
        box = at.selectbox(key=f"explain_val_image_{k}")
        names = [result.classes[p] for _, p in groups[k]]
        marks = ["✗" if p != k else "✓" for _, p in groups[k]]
        assert box.options == [
            f"{m} #{i}: predicted {n}" for m, (i, _), n in zip(marks, groups[k], names, strict=True)
        ]
        assert marks == sorted(marks, key="✗✓".index)  # every mistake before every hit
    # The first mistake of the class is explained: the model's own top class is its prediction.
    at.selectbox(key="explain_val_class").set_value(first).run()
    index, predicted = groups[first][0]
    model = models.trained(result.trained())
    x = model.preprocess(data.images[index])
    assert target_box(at).value == predict(model, x)[0][0] == predicted != first
    caption = f"#{index}: {result.classes[first]}, misclassified as {result.classes[predicted]}"
    assert caption in [i.caption for e in at.get("image") for i in e.proto.imgs]
    assert not at.exception


def test_an_uploaded_dataset_is_found_and_a_changed_one_is_not(open_page):
    """The upload held in the session is the run's dataset when its labels count the run's
    confusion matrix; another dataset with the same classes is not shown as its images."""
    from tests.train_cases import tiny

    data = tiny(n_per_class=10, classes=3, side=SIDE)
    data.paths.extend(f"shapes/c{int(y)}/{i}.png" for i, y in enumerate(data.labels))
    config = FinetuneConfig(backbone="resnet18", weights="none", strategy="linear", epochs=1,
                            image_size=SIDE, device="cpu")  # fmt: skip
    handle = default_runner().submit(finetune, data, config, session="explain-test-tiny")
    run = ("explain-test-tiny", handle, handle.result(timeout=300), data)
    at = with_run(open_page(PAGE), run, dataset=data)
    groups = expected_groups(run[2], data.labels.tolist())
    k = at.selectbox(key="explain_val_class").value
    box = at.selectbox(key=f"explain_val_image_{k}")
    assert [o.split(":")[0][2:] for o in box.options] == [f"{i}.png" for i, _ in groups[k]]
    # Another dataset with the same classes and size: the run's images are gone.
    other = tiny(n_per_class=10, classes=3, side=SIDE, seed=1)
    other.labels = other.labels.flip(0)
    at = with_run(open_page(PAGE), run, dataset=other)
    assert "A validation image (your dataset)" not in at.selectbox(key="explain_image").options
    assert any("validation images are no longer here" in c.value for c in at.caption)


def layer_grids(net: nn.Module, shape: tuple[int, int, int]) -> dict[str, tuple[int, int]]:
    """The oracle: every module's output grid (H, W) for an input of `shape`, by forward hooks
    on the network itself."""
    grids: dict[str, tuple[int, int]] = {}

    def keep(name: str):
        def hook(_m, _i, out) -> None:
            if isinstance(out, torch.Tensor) and out.ndim == 4:
                grids[name] = tuple(out.shape[-2:])

        return hook

    hooks = [m.register_forward_hook(keep(name)) for name, m in net.named_modules() if name]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return grids


def info_texts(at) -> list[str]:
    return [i.value for i in at.info]


def test_grad_cam_layer_coarser_than_4x4_says_so_and_suggests_another(open_page, digits_run):
    _, _, result, _ = digits_run
    at = with_run(open_page(PAGE), digits_run)
    grids = layer_grids(result.trained().model, (3, SIDE, SIDE))
    assert grids["layer2"] == (2, 2) and grids["layer1"] == (4, 4)  # what the page must say
    box = next(s for s in at.selectbox if s.label == "Grad-CAM layer")
    assert box.value == "layer2"  # the default: the last layer larger than 1x1
    note = next(t for t in info_texts(at) if "Grad-CAM map" in t)
    assert note.startswith(f"layer2 is 2x2 at {SIDE}x{SIDE} px")
    assert "which quarter of the image" in note and "Try layer1 (4x4)" in note
    box.set_value("layer4").run()
    note = next(t for t in info_texts(at) if "Grad-CAM map" in t)
    assert note.startswith("layer4 is 1x1") and "one number for the whole image" in note
    next(s for s in at.selectbox if s.label == "Grad-CAM layer").set_value("layer1").run()
    assert not any("Grad-CAM map" in t for t in info_texts(at))
    # Without Grad-CAM among the methods the note has nothing to say.
    next(s for s in at.selectbox if s.label == "Grad-CAM layer").set_value("layer2").run()
    at.multiselect(key="explain_methods").set_value(["saliency"]).run()
    assert not any("Grad-CAM map" in t for t in info_texts(at))
    assert not at.exception


def test_default_model_grad_cam_layers(open_page):
    """LeNet-5's default layer (s4, 5x5) is fine; c5 (1x1) is not, and s4 is suggested."""
    at = open_page(PAGE)
    grids = layer_grids(default_model.build(), (1, 32, 32))
    assert not any("Grad-CAM map" in t for t in info_texts(at))
    coarse = [n for n, (h, w) in grids.items() if h < 4 or w < 4]
    assert "c5" in coarse and grids["s4"] == (5, 5)
    at.selectbox(key="explain_layer_lenet5_digits").set_value("c5").run()
    note = next(t for t in info_texts(at) if "Grad-CAM map" in t)
    assert note.startswith("c5 is 1x1 at 32x32 px") and "Try s4 (5x5)" in note


def test_pages_name_weights_files_never_the_folders_they_live_in(open_page, tmp_path, monkeypatch):
    """With ImageNet weights on disk (a random state dict where torchvision reads it) and with
    them missing, Explain and Home name the file, not TORCH_HOME or any temporary folder."""
    home = tmp_path / "torchhome"
    monkeypatch.setenv("TORCH_HOME", str(home))
    path = weights.weights_file("resnet18")
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), path)
    folders = (str(home), str(tmp_path), tempfile.gettempdir() + "/")
    at = open_page(PAGE)
    at.radio(key="explain_source").set_value("imagenet").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="explain_net").value == "resnet18" and not at.info
    assert "resnet18" in page_text(at) and server_paths_shown(at, *folders) == []
    at.selectbox(key="explain_net").set_value("vgg16").run()  # its weights are missing
    (missing,) = [i.value for i in at.info if "vgg16-397923af.pth" in i.value]
    assert server_paths_shown(at, *folders) == []
    assert "fetch-weights vgg16" in missing
    at.switch_page("pages/home.py").run()
    assert not at.exception and "Pretrained weights on this server" in page_text(at)
    assert server_paths_shown(at, *folders) == []
