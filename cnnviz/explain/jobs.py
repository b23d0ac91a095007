"""The Explain page's job functions (`cnnviz.jobs`): every one takes picklable inputs only, the
model as its `ModelSpec` (never the object: a job may run in another process) and plain tensors
and dataclasses of plain values, and resolves the spec once (`models.resolve`: that process's
one copy of the model, borrowed under its lock and left as found).

    handle = runner.submit(jobs.explain_maps, model.spec(), x, target, methods, params,
                           session=owner)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from cnnviz.explain import attribution, feature_viz, models, sanity
from cnnviz.explain.attribution import Attribution, Params
from cnnviz.explain.feature_viz import Settings, Study
from cnnviz.explain.models import ModelSpec
from cnnviz.explain.reference_images import ReferenceImages
from cnnviz.explain.sanity import SanityResult


def explain_maps(
    spec: ModelSpec,
    x: torch.Tensor,
    target: int | None,
    methods: list[str],
    params: Params,
    *,
    report: Callable[..., Any] | None = None,
) -> dict[str, Attribution]:
    """The slow attribution methods' maps (attribution.explain_all), for the model `spec`."""
    return attribution.explain_all(models.resolve(spec), x, target, methods, params, report=report)


def check_sanity(
    spec: ModelSpec,
    x: torch.Tensor,
    methods: list[str],
    params: Params,
    target: int | None = None,
    *,
    report: Callable[..., Any] | None = None,
) -> SanityResult:
    """The cascading randomization (sanity.cascading_randomization) of the model `spec`."""
    model = models.resolve(spec)
    return sanity.cascading_randomization(model, x, methods, params, target, report=report)


def study_channels(
    spec: ModelSpec,
    layer: str,
    channels: Sequence[int],
    settings: Settings,
    pictures: ReferenceImages,
    k: int = 8,
    *,
    report: Callable[..., Any] | None = None,
) -> Study:
    """Feature visualization of `layer`'s channels beside the reference images that excite
    them most (feature_viz.study); `pictures` by name (reference_images.by_reference), loaded
    here."""
    model = models.resolve(spec)
    images = pictures.load()[0]
    return feature_viz.study(model, layer, channels, settings, images, k, report=report)


# Every job kind the Explain page submits (tests/test_job_inputs.py pickles each one's inputs).
JOBS = (explain_maps, check_sanity, study_channels)
