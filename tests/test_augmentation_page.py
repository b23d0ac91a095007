"""AppTest of the Data augmentation page: compose the pipeline (add, reorder, remove steps),
the grid of draws follows N and the seed, the code follows the pipeline, uploads are checked."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.augment import limits
from tests.test_images import png_header

PAGE = "pages/augmentation.py"


@pytest.fixture
def page(open_page) -> AppTest:
    return open_page(PAGE)


def grid(at: AppTest) -> list[str]:
    """The captions of the grid's draws ("1. rotated +3.1° · ...")."""
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    return [c for c in captions if re.match(r"\d+\. ", c)]


def code(at: AppTest) -> str:
    return at.code[0].value


def steps_in_code(at: AppTest) -> list[str]:
    return re.findall(r"^    v2\.(\w+)\(", code(at), flags=re.MULTILINE)


def test_the_default_page_multiplies_the_data_by_6(page):
    assert page.title[0].value == "Data augmentation"
    assert steps_in_code(page) == ["RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter"]
    captions = grid(page)
    assert len(captions) == 6
    assert all("crop " in c and "jitter " in c for c in captions)
    assert {"flipped left-right" in c for c in captions} == {True, False}  # p = 0.5, seed 0
    assert "torch.manual_seed(0)" in code(page) and "range(6)" in code(page)
    assert any("9" in m.value and "6" in m.value for m in page.markdown)  # the 6 turned over


def test_add_reorder_and_remove_steps(page):
    page.selectbox(key="augmentation_add").set_value("Rotation").run()
    page.button(key="augmentation_add_button").click().run()
    assert steps_in_code(page)[-1] == "RandomRotation"
    assert all("rotated " in c for c in grid(page))
    new_id = page.session_state["augmentation_steps"][-1]["id"]
    degrees = page.number_input(key=f"augmentation_step{new_id}_degrees")
    assert (degrees.min, degrees.max) == (limits.DEGREES.low, limits.DEGREES.high)
    p = page.slider(key="augmentation_step1_p")  # the flip's probability, a Span
    assert (p.min, p.max, p.step) == (0.0, 1.0, limits.PROBABILITY.step)
    degrees.set_value(180).run()
    assert "degrees=180.0" in code(page)

    page.button(key=f"augmentation_step{new_id}_up").click().run()  # before the jitter
    assert steps_in_code(page) == [
        "RandomResizedCrop", "RandomHorizontalFlip", "RandomRotation", "ColorJitter",
    ]  # fmt: skip
    assert "degrees=180.0" in code(page)  # the step keeps its settings when it moves
    page.button(key="augmentation_step0_down").click().run()
    assert steps_in_code(page)[:2] == ["RandomHorizontalFlip", "RandomResizedCrop"]
    assert page.button(key="augmentation_step1_up").disabled  # the flip (id 1) is first now
    assert not page.button(key="augmentation_step0_up").disabled

    page.button(key="augmentation_step1_remove").click().run()  # the flip
    assert steps_in_code(page) == ["RandomResizedCrop", "RandomRotation", "ColorJitter"]
    assert not any("flipped" in c for c in grid(page))
    assert not page.exception


def steps_id(at: AppTest, index: int) -> int:
    return at.session_state["augmentation_steps"][index]["id"]


def test_the_grid_follows_n_and_the_seed(page):
    first = grid(page)
    page.number_input(key="augmentation_n").set_value(9).run()
    assert len(grid(page)) == 9 and grid(page)[:6] == first  # the same first six draws
    page.button(key="augmentation_again").click().run()
    assert page.number_input(key="augmentation_seed").value == 1
    assert "torch.manual_seed(1)" in code(page) and grid(page) != first[:9]
    page.number_input(key="augmentation_seed").set_value(0).run()
    assert grid(page)[:6] == first


def test_the_digit_and_a_value_torch_would_crash_on(page):
    page.selectbox(key="augmentation_image").set_value("Handwritten digit").run()
    assert page.selectbox(key="augmentation_digit").value == 6
    for _ in range(3):  # start from a plain pipeline: remove the three default steps
        page.button(key=f"augmentation_step{steps_id(page, 0)}_remove").click().run()
    assert grid(page) == [f"{i}. no steps: the original" for i in range(1, 7)]
    page.selectbox(key="augmentation_add").set_value("Elastic").run()
    page.button(key="augmentation_add_button").click().run()
    page.slider(key=f"augmentation_step{steps_id(page, 0)}_sigma").set_value(20.0).run()
    assert not page.exception
    (error,) = page.error
    assert "33 pixels" not in error.value and "32x32 at this step" in error.value
    assert not grid(page)


def test_each_image_gets_a_crop_side_that_suits_it(page):
    """A photo is cropped to 224 px, a digit to its own 32 px (not blown up to 224)."""
    crop = steps_id(page, 0)
    assert page.number_input(key=f"augmentation_step{crop}_size_224").value == 224
    assert "v2.RandomResizedCrop(size=224," in code(page)
    page.selectbox(key="augmentation_image").set_value("Handwritten digit").run()
    assert page.number_input(key=f"augmentation_step{crop}_size_32").value == 32
    assert "v2.RandomResizedCrop(size=32," in code(page) and "224" not in code(page)
    assert len(grid(page)) == 6 and not page.exception


def encoded(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 200, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploads_good_and_bad(page):
    page.selectbox(key="augmentation_image").set_value("Upload your own").run()
    assert len(grid(page)) == 6  # the astronaut stands in until a file comes
    uploader = page.get("file_uploader")[0]
    uploader.set_value(("notes.png", b"not an image at all", "image/png")).run()
    assert not page.exception
    assert "not an image" in page.error[0].value and not grid(page)
    page.get("file_uploader")[0].set_value(("huge.png", png_header(9000, 9000), "image/png")).run()
    assert "megapixels" in page.error[0].value and not grid(page)
    page.get("file_uploader")[0].set_value(("ok.png", encoded((60, 80)), "image/png")).run()
    assert not page.error and len(grid(page)) == 6


def test_a_policy_step_shows_the_operations_it_drew(page):
    page.selectbox(key="augmentation_add").set_value("AugMix").run()
    page.button(key="augmentation_add_button").click().run()
    assert all("AugMix: mixed" in c and " ops (" in c for c in grid(page))
    assert "v2.AugMix(severity=3, mixture_width=3, chain_depth=-1, alpha=1.0)" in code(page)
