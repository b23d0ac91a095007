"""The Explain page's jobs on the Ray backend (a real local Ray instance, started once for this
module): a Ray worker gets the ModelSpec alone, builds the model from it in its own process,
and answers with the maps the page's own model object gives in this process."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import torch

from cnnviz.explain import attribution, feature_viz, models, reference_images
from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain.attribution import Params
from cnnviz.explain.feature_viz import Settings
from cnnviz.jobs import JobRunner, JobSettings
from tests.explain_cases import digit_input
from tests.test_explain_jobs import tiny_trained

ray = pytest.importorskip("ray")
from cnnviz.jobs import ray_backend  # noqa: E402

pytestmark = pytest.mark.e2e  # starts Ray's processes
FEW = Params(steps=4, samples=2, seed=1)


@pytest.fixture(scope="module", autouse=True)
def _ray(local_ray):
    """The session's local Ray instance (tests/conftest.py)."""
    return local_ray


@pytest.fixture
def runner():
    settings = JobSettings(cpu_threads=1, backend="ray", per_session=3)
    name = f"cnnviz-test-{uuid.uuid4().hex[:8]}"
    yield JobRunner(settings, backend=ray_backend.RayBackend(settings, name=name))
    ray.kill(ray.get_actor(name, namespace=ray_backend.NAMESPACE))


def test_a_fine_tuned_models_maps_come_back_from_a_ray_worker(runner):
    trained = tiny_trained()
    model = models.trained(trained)
    x = model.preprocess(torch.arange(3 * 32 * 32).reshape(3, 32, 32).to(torch.uint8))
    methods = ["saliency", "integrated_gradients", "occlusion"]
    oracle = attribution.explain_all(model, x, 1, methods, FEW)
    handle = runner.submit(explain_jobs.explain_maps, model.spec(), x, 1, methods, FEW, session="s")
    maps = handle.result(timeout=180)
    assert list(maps) == methods
    for m in methods:
        np.testing.assert_allclose(
            maps[m].map, oracle[m].map, rtol=1e-4, atol=1e-6
        )  # thread counts differ


def test_the_default_models_sanity_check_and_feature_study_on_ray(runner):
    from cnnviz.explain import sanity

    model, x, label = digit_input()
    methods = ["saliency", "gradcam"]
    check = runner.submit(
        explain_jobs.check_sanity, model.spec(), x, methods, FEW, label, session="s"
    )
    settings = Settings(steps=3, seed=1)
    pictures = reference_images.by_reference(reference_images.reference_images(model)[0][:50])
    study = runner.submit(
        explain_jobs.study_channels, model.spec(), "c3", [0, 5], settings, pictures, 3, session="s"
    )
    oracle = sanity.cascading_randomization(model, x, methods, FEW, label)
    result = check.result(timeout=180)
    assert result.steps == oracle.steps
    for m in methods:
        np.testing.assert_allclose(result.correlations[m], oracle.correlations[m], atol=1e-6)
    here = feature_viz.study(model, "c3", [0, 5], settings, pictures.load()[0], 3)
    there = study.result(timeout=180)
    assert there.top.indices == here.top.indices
    assert np.array_equal(there.visualization.images, here.visualization.images)
