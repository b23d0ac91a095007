"""The code to copy: executed, it builds an equal pipeline, and seeded the same it gives the
same images as the explorer's draws."""

from __future__ import annotations

import pytest
import torch

from cnnviz.augment import CATALOG, build, make_step
from cnnviz.augment.code import literal, pipeline_code
from cnnviz.augment.draws import draw

IMAGE = torch.randint(
    0, 256, (3, 48, 52), dtype=torch.uint8, generator=torch.Generator().manual_seed(4)
)
NAMES = list(CATALOG)
# Two pipelines that hold every transform between them (a pipeline has at most 12 steps), with
# values off their defaults where the code must carry them.
PIPELINES = [
    [make_step(n) for n in NAMES[:8] if n != "Random resized crop"]
    + [make_step("Random resized crop", {"size": 40, "scale": (0.5, 0.9)})],
    [make_step(n) for n in NAMES[8:12]]
    + [make_step("AutoAugment", {"policy": "cifar10"}), make_step("RandAugment", {"num_ops": 3})]
    + [make_step(n) for n in NAMES[14:]],
]


def run(code: str) -> dict:
    namespace = {"image": IMAGE}
    exec(compile(code, "<pipeline_code>", "exec"), namespace)  # the student's copy, as is
    return namespace


@pytest.mark.parametrize("steps", PIPELINES, ids=["geometry", "color-and-policies"])
def test_the_code_builds_an_equal_pipeline_that_gives_the_same_draws(steps):
    assert {s.name for p in PIPELINES for s in p} == set(CATALOG)
    code = pipeline_code(steps, n=5, seed=21)
    namespace = run(code)
    ours = build(steps)
    theirs = namespace["pipeline"]
    assert [type(t) for t in theirs.transforms] == [type(t) for t in ours.transforms]
    assert repr(theirs) == repr(ours)  # every public attribute of every transform
    draws = draw(IMAGE, steps, 5, seed=21)
    assert len(namespace["draws"]) == 5
    for mine, copied in zip(draws, namespace["draws"], strict=True):
        assert torch.equal(mine.image, copied)


def test_the_code_of_an_empty_pipeline_runs_and_returns_the_image():
    namespace = run(pipeline_code([], n=2, seed=0))
    assert all(torch.equal(x, IMAGE) for x in namespace["draws"])


def test_literals_are_python_source():
    from torchvision.transforms import v2

    assert literal(v2.InterpolationMode.BILINEAR) == "v2.InterpolationMode.BILINEAR"
    assert literal(v2.AutoAugmentPolicy.SVHN) == "v2.AutoAugmentPolicy.SVHN"
    assert literal((0.5,)) == "(0.5,)" and literal((0.1, 2.0)) == "(0.1, 2.0)"
    assert "degrees=45.0" in pipeline_code([make_step("Rotation", {"degrees": 45})])
