"""Seeded draws: reproducible, equal to torchvision's own forward with the same seed, and the
recorded parameters are the ones applied (re-applied with torchvision's functionals)."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from cnnviz.augment import CATALOG, build, make_step
from cnnviz.augment.draws import draw
from cnnviz.errors import OutOfBounds

IMAGE = torch.randint(
    0, 256, (3, 36, 44), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)
)


def images(draws) -> list[torch.Tensor]:
    return [d.image for d in draws]


def equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", list(CATALOG))
def test_draws_equal_torchvisions_forward_with_the_same_seed(name):
    steps = [make_step(name)]
    pipeline = build(steps)
    torch.manual_seed(7)
    oracle = [pipeline(IMAGE) for _ in range(5)]
    assert equal(images(draw(IMAGE, steps, 5, seed=7)), oracle)


def test_a_long_pipeline_equals_torchvisions_forward_and_is_reproducible():
    steps = [make_step(n) for n in list(CATALOG)[:12] if n != "Random resized crop"]
    steps.insert(2, make_step("Random resized crop", {"size": 40}))
    pipeline = build(steps)
    torch.manual_seed(3)
    oracle = [pipeline(IMAGE) for _ in range(4)]
    first = draw(IMAGE, steps, 4, seed=3)
    assert equal(images(first), oracle)
    assert equal(images(draw(IMAGE, steps, 4, seed=3)), images(first))
    assert [d.drawn for d in draw(IMAGE, steps, 4, seed=3)] == [d.drawn for d in first]
    assert not equal(images(draw(IMAGE, steps, 4, seed=4)), images(first))
    assert all(len(d.drawn) == len(steps) == len(d.params) for d in first)


def test_drawing_leaves_torchs_global_random_state_and_threads_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    draw(IMAGE, [make_step("Rotation")], 3, seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_the_recorded_rotation_angles_are_the_ones_applied():
    draws = draw(IMAGE, [make_step("Rotation", {"degrees": 90})], 6, seed=1)
    angles = [d.params[0]["angle"] for d in draws]
    assert all(-90 <= a <= 90 for a in angles) and len(set(angles)) == 6
    for d, angle in zip(draws, angles, strict=True):
        oracle = F.rotate(IMAGE, angle, interpolation=v2.InterpolationMode.BILINEAR, fill=0)
        assert torch.equal(d.image, oracle)
        assert f"{angle:+.1f}°" in d.caption()


def test_the_recorded_flips_and_crops_are_the_ones_applied():
    steps = [make_step("Horizontal flip"), make_step("Random resized crop", {"size": 24})]
    draws = draw(IMAGE, steps, 8, seed=0)
    fired = [d.params[0]["fired"] for d in draws]
    assert True in fired and False in fired  # p = 0.5 over 8 draws, at this seed
    for d in draws:
        flipped = F.horizontal_flip(IMAGE) if d.params[0]["fired"] else IMAGE
        box = {k: d.params[1][k] for k in ("top", "left", "height", "width")}
        oracle = F.resized_crop(flipped, **box, size=[24, 24], antialias=True)
        assert torch.equal(d.image, oracle)
        assert ("flipped left-right" in d.caption()) == d.params[0]["fired"]
        assert (
            f"crop {box['width']}x{box['height']} at ({box['left']}, {box['top']})" in d.caption()
        )


def test_the_recorded_erasing_box_and_affine_are_the_ones_applied():
    draws = draw(IMAGE, [make_step("Random erasing", {"p": 1.0})], 4, seed=5)
    for d in draws:
        p = d.params[0]
        oracle = F.erase(IMAGE, p["i"], p["j"], p["h"], p["w"], p["v"])
        assert torch.equal(d.image, oracle) and not torch.equal(d.image, IMAGE)
    step = make_step("Affine (rotate, shift, scale, shear)", {"degrees": 20})
    for d in draw(IMAGE, [step], 4, seed=6):
        p = d.params[0]
        oracle = F.affine(
            IMAGE, p["angle"], list(p["translate"]), p["scale"], list(p["shear"]),
            interpolation=v2.InterpolationMode.BILINEAR, fill=0,
        )  # fmt: skip
        assert torch.equal(d.image, oracle)


@pytest.mark.parametrize("name", ["AutoAugment", "RandAugment", "TrivialAugmentWide"])
def test_a_policys_recorded_operations_replay_to_the_same_image(name):
    steps = [make_step(name)]
    replay = build(steps).transforms[0]
    for d in draw(IMAGE, steps, 6, seed=2):
        ops = d.params[0]["ops"]
        assert name in d.caption()
        out = IMAGE
        for op, magnitude in ops:  # the policy's own operation, applied by hand
            out = replay._apply_image_or_video_transform(
                out, op, magnitude, interpolation=replay.interpolation, fill=replay._fill
            )
        assert torch.equal(d.image, out)


def test_randaugment_applies_num_ops_operations():
    draws = draw(IMAGE, [make_step("RandAugment", {"num_ops": 3})], 5, seed=0)
    assert all(len(d.params[0]["ops"]) == 3 for d in draws)


def test_draw_refuses_bad_counts_and_non_uint8_images():
    with pytest.raises(OutOfBounds):
        draw(IMAGE, [], 0)
    with pytest.raises(OutOfBounds):
        draw(IMAGE, [], 25)
    with pytest.raises(TypeError):
        draw(IMAGE.float(), [], 2)
    (d,) = draw(IMAGE, [], 1)
    assert torch.equal(d.image, IMAGE) and d.caption() == "no steps: the original"


def test_a_blur_wider_than_the_image_is_a_clear_message_not_a_torch_error():
    small = IMAGE[:, :15, :15]
    draw(small, [make_step("Gaussian blur", {"kernel_size": 29})], 1)  # half 14 < 15: fine
    with pytest.raises(OutOfBounds, match="at least 16 pixels") as err:
        draw(small, [make_step("Gaussian blur", {"kernel_size": 31})], 1)
    assert "at most 29" in err.value.hint
    crop = make_step("Random resized crop", {"size": 24})  # the crop makes the image smaller
    with pytest.raises(OutOfBounds, match="24x24 at this step"):
        draw(IMAGE, [crop, make_step("Elastic", {"sigma": 6.5})], 1)
    # and torch itself refuses what the message refuses (the bound is not stricter than torch)
    with pytest.raises(RuntimeError):
        build([make_step("Gaussian blur", {"kernel_size": 31})])(small)
