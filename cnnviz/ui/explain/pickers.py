"""The Explain page's choices: the network (the default LeNet-5, an ImageNet model, the session's
fine-tuned one), the image, the class to explain; the prediction and the layers, cached per
model and input."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from cnnviz import images, weights
from cnnviz.errors import CnnvizError
from cnnviz.explain import feature_maps, limits, models
from cnnviz.explain.validation import ValidationSet
from cnnviz.presets import slug
from cnnviz.ui import presets
from cnnviz.ui.errors import show_error
from cnnviz.ui.explain.common import TRAINED_KEY

SOURCES = {
    "default": "LeNet-5 trained on digits",
    "imagenet": "ImageNet model (torchvision)",
    "trained": "Your fine-tuned model",
}


DIGITS_SEED = 0


@st.cache_resource(show_spinner=False)
def default_model() -> models.Explained:
    """The default LeNet-5, loaded once per server."""
    return models.default()


@st.cache_resource(show_spinner=False)
def digit_images() -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The digits at 32x32 and the validation indices the default model never trained on."""
    from cnnviz.data import digits
    from cnnviz.explain import default_model as made

    data = digits(made.SIDE)
    return data.images, data.labels, made.split()[1].tolist()


def model_picker() -> models.Explained | None:
    """Which network to explain; None (with the reason shown) when it cannot be used."""
    options = ["default", "imagenet"]
    session_model = st.session_state.get(TRAINED_KEY)
    if session_model is not None:
        options.append("trained")
    left, right = st.columns([2, 3])
    source = presets.choice(
        left.radio, "Network", options, default="default", key="explain_source", param="net",
        format_func=SOURCES.get, horizontal=False,
    )  # fmt: skip
    if source == "default":
        right.caption(
            "LeNet-5 (the registry's modern version, 61,706 parameters) trained on scikit-learn's "
            "1,797 handwritten digits at 32x32; the digits below are from its validation split."
        )
        return default_model()
    if source == "trained":
        right.caption("The model you fine-tuned on the Transfer learning page in this session.")
        return models.trained(session_model)
    names = models.imagenet_names()
    name = presets.choice(
        right.selectbox, "ImageNet model", names, default="resnet18", key="explain_net",
        param="model",
    )  # fmt: skip
    if weights.weights_available(name):
        return models.imagenet(name)
    st.info(weights.missing_message(name), icon=":material/cloud_off:")
    random = st.toggle(
        "Explain it with random weights instead", key="explain_random",
        help="The same network untrained (seed 0): its maps show what the architecture alone "
        "draws, which is what the sanity check compares against.",
    )  # fmt: skip
    return models.imagenet(name, pretrained=False) if random else None


def image_picker(model: models.Explained) -> tuple[np.ndarray, str] | None:
    """The image to explain (H x W x 3 uint8) and a caption; None when no upload yet."""
    if model.source == "default":
        pics, labels, val = digit_images()
        column = st.columns([1, 2])[0]  # a short number: a short field
        i = presets.number(column, "Digit (index in the validation split)", limits.DIGIT_INDEX,
                           0, "explain_digit", param="digit")  # fmt: skip
        k = val[i]  # its index among the 1,797; the caption says the number the student typed
        return pics[k].permute(1, 2, 0).numpy(), f"validation digit {i}, labeled {int(labels[k])}"
    validation = trained_validation() if model.source == "trained" else None
    if model.source == "trained" and validation is None:
        st.caption(
            "Your run's validation images are no longer here (the dataset changed on the "
            "Transfer learning page, or the server freed the run): pick a photo or upload one."
        )
    own = [VALIDATION] if validation is not None else []
    source = presets.choice(
        st.selectbox, "Image", [*own, *images.PHOTOS, "Upload your own"],
        default=VALIDATION if own else "Astronaut",
        key="explain_image_trained" if own else "explain_image", param="image", name=slug,
    )  # fmt: skip
    if source == VALIDATION and validation is not None:
        return validation_picker(validation)
    if source in images.PHOTOS:
        return images.photo(source), source
    upload = st.file_uploader(
        "A photo", type=["png", "jpg", "jpeg", "bmp", "webp"], key="explain_upload"
    )
    if upload is None:
        st.info("Upload a photo to explain.", icon=":material/upload:")
        return None
    try:
        return images.decode_upload(upload.getvalue()), upload.name
    except CnnvizError as err:
        show_error(err)
        return None


VALIDATION = "A validation image (your dataset)"


def trained_validation() -> ValidationSet | None:
    """The session's fine-tuned model's validation images, from the Transfer learning page."""
    from cnnviz.ui.transfer_learning import session_validation  # its widgets: only here

    return session_validation()


def validation_picker(validation: ValidationSet) -> tuple[np.ndarray, str]:
    """A class, then one of its validation images (the model's mistakes first)."""
    classes = validation.classes
    groups = validation.by_class

    def class_label(k: int) -> str:
        n, wrong = len(groups[k]), validation.mistakes(k)
        return f"{classes[k]}: {n:,} image{'s' if n != 1 else ''}, {wrong:,} misclassified"

    filled = [k for k in range(len(classes)) if groups[k]]
    first = next((k for k in filled if validation.mistakes(k)), filled[0])
    left, right = st.columns(2)
    true = left.selectbox(
        "True class", filled, index=filled.index(first), format_func=class_label,
        key="explain_val_class", help="The validation images of each class: the run never "
        "trained on them. The ones it got wrong come first.",
    )  # fmt: skip
    items = groups[true]
    k = right.selectbox(
        "Validation image", range(len(items)), key=f"explain_val_image_{true}",
        format_func=lambda i: validation.label(items[i]),
    )  # fmt: skip
    item = items[k]
    verdict = "misclassified as" if item.wrong else "predicted"
    caption = f"{item.name}: {classes[item.true]}, {verdict} {classes[item.predicted]}"
    return validation.picture(item), caption


@st.cache_data(max_entries=512, show_spinner=False)
def prediction(key: str, xid: str, _model: models.Explained, _x: torch.Tensor) -> list:
    return models.predict(_model, _x)


@st.cache_data(max_entries=512, show_spinner=False)
def layers_of(key: str, xid: str, _model: models.Explained, _x: torch.Tensor) -> dict:
    return feature_maps.spatial_layers(_model, _x)


def target_picker(top: list[tuple[int, str, float]], classes: int, key: str) -> int:
    """The class to explain: the prediction, or another of the top 5 (per image: a new image
    starts from its own prediction)."""
    labels = {i: f"{name} ({p:.1%})" for i, name, p in top}
    return st.selectbox(
        "Explain the class", list(labels), format_func=labels.get, key=f"explain_target_{key}",
        help=f"The top 5 of the model's {classes:,} classes; the first is its prediction.",
    )  # fmt: skip


def resized(image: np.ndarray, model: models.Explained) -> np.ndarray:
    """The image as the network sees it (before normalization): the overlays' background."""
    from torchvision.transforms.v2 import functional as F

    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    side = model.image_size
    if model.source in ("imagenet", "untrained"):  # the weights' transforms: resize, center crop
        t = F.center_crop(F.resize(t, [round(side * 256 / 224)], antialias=True), [side, side])
    else:
        t = F.resize(t, [side, side], antialias=True)
    return t.permute(1, 2, 0).numpy()
