"""The Explain jobs take a ModelSpec, not the model: the spec pickles, and `models.resolve` gives
this process's one copy back (the shared model itself where there is one), or builds it once
from the spec's file in a process that has never seen it, with the same maps."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.explain import attribution, models
from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain.attribution import Params
from cnnviz.train import TrainedModel
from tests.explain_cases import RESNET_SIDE, assert_same, digit_input, shared_resnet, state

FEW = Params(steps=4, samples=2, seed=1)


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(models.STORE_ENV, str(tmp_path / "models"))
    return tmp_path / "models" / "files"  # the store's files, beside its objects


def net_of(model: models.Explained) -> nn.Module:
    with model.borrow() as net:
        return net


def tiny_trained(seed: int = 0) -> TrainedModel:
    """A fine-tuned model as cnnviz.train makes one (resnet18's layout, 3 classes)."""
    from cnnviz.train import backbones

    torch.manual_seed(seed)
    net = backbones.build(backbones.spec("resnet18"), "none", 3, seed).eval()
    return TrainedModel(net, ["cat", "dog", "fox"], "resnet18", 32, [0.5] * 3, [0.25] * 3)


def forget_this_process() -> None:
    """As a worker that has never seen the model: no fine-tuned model held, nothing built."""
    models._held.clear()
    models._built.clear()


def test_the_default_spec_is_the_shared_lenet():
    model = digit_input()[0]
    spec = model.spec()
    assert pickle.loads(pickle.dumps(spec)) == spec == models.DEFAULT_SPEC
    assert net_of(models.resolve(spec)) is net_of(model) is models._default()[0]


def test_a_registry_model_resolves_to_the_shared_one():
    model = models.imagenet("resnet18", pretrained=False, image_size=RESNET_SIDE)
    spec = model.spec()
    assert spec == models.ModelSpec("untrained", "resnet18", "seed0", None, RESNET_SIDE)
    again = models.resolve(pickle.loads(pickle.dumps(spec)))
    assert net_of(again) is shared_resnet()
    assert again.key == model.key and again.image_size == RESNET_SIDE


def test_a_job_leaves_the_shared_model_as_found():
    model, x, label = digit_input()
    net = models._default()[0]
    before = state(net)
    explain_jobs.explain_maps(model.spec(), x, label, ["integrated_gradients", "gradcam"], FEW)
    assert_same(before, state(net))


def test_a_fine_tuned_model_is_stored_once_by_its_content(store: Path):
    trained = tiny_trained()
    spec = models.trained(trained).spec()
    assert spec.source == "trained" and spec.name == "resnet18" and spec.image_size == 32
    assert Path(spec.file) == store / f"trained-{spec.weights}.pt"
    # the same weights in another object: the same file; other weights: another one
    twin = TrainedModel(
        tiny_trained().model, trained.classes, "resnet18", 32, [0.5] * 3, [0.25] * 3
    )
    assert models.trained(twin).spec() == spec
    assert models.trained(tiny_trained(seed=1)).spec().weights != spec.weights
    assert sorted(p.name for p in store.iterdir()) == sorted(
        {f"trained-{spec.weights}.pt", Path(models.trained(tiny_trained(1)).spec().file).name}
    )


def test_a_fine_tuned_spec_resolves_to_the_sessions_model_in_its_process():
    trained = tiny_trained()
    model = models.trained(trained)
    here = models.resolve(model.spec())
    assert net_of(here) is trained.model  # no copy: the session's very network, and its lock
    assert here.key == model.key


def test_another_process_builds_it_from_the_file_once_with_the_same_maps():
    trained = tiny_trained()
    model = models.trained(trained)
    spec = pickle.loads(pickle.dumps(model.spec()))
    x = model.preprocess(torch.arange(3 * 40 * 40).reshape(3, 40, 40).to(torch.uint8))
    methods = ["saliency", "integrated_gradients"]
    oracle = attribution.explain_all(model, x, 2, methods, FEW)
    forget_this_process()
    first = models.resolve(spec)
    assert net_of(first) is not trained.model
    assert net_of(models.resolve(spec)) is net_of(first)  # built once, kept
    assert first.classes == ("cat", "dog", "fox") and first.image_size == 32
    maps = explain_jobs.explain_maps(spec, x, 2, methods, FEW)
    for m in methods:
        np.testing.assert_allclose(maps[m].map, oracle[m].map, rtol=1e-5, atol=1e-7)


def test_a_weights_file_spec_names_the_file_by_its_content(tmp_path: Path):
    net = models._default()[0]
    path = tmp_path / "lenet.pt"
    torch.save({k: v * 0.5 for k, v in net.state_dict().items()}, path)
    model = models.with_weights(models.DEFAULT, path)
    spec = model.spec()
    assert spec.source == "weights" and spec.file == str(path.resolve())
    forget_this_process()
    again = models.resolve(pickle.loads(pickle.dumps(spec)))
    assert net_of(again) is not net_of(model)
    x = digit_input()[1]
    assert models.predict(again, x) == models.predict(model, x)


def test_a_process_only_network_has_no_spec():
    from cnnviz.explain import sanity

    model = digit_input()[0]
    randomized = sanity._private(model, nn.Sequential())
    with pytest.raises(ValueError, match="this process only"):
        randomized.spec()


def _maps_elsewhere(spec, x, methods, threads):
    """Run in a fresh process: the job as a worker would run it (on as many torch threads as
    the test's process: another count sums in another order, last bits apart)."""
    torch.set_num_threads(threads)
    out = explain_jobs.explain_maps(spec, x, 2, methods, FEW)
    return {m: a.map for m, a in out.items()}


@pytest.mark.e2e
def test_a_fresh_process_runs_the_job_from_the_spec_alone():
    trained = tiny_trained()
    model = models.trained(trained)
    x = model.preprocess(torch.full((3, 32, 32), 90, dtype=torch.uint8))
    methods = ["saliency", "occlusion"]
    oracle = attribution.explain_all(model, x, 2, methods, FEW)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        threads = torch.get_num_threads()
        job = pool.submit(_maps_elsewhere, model.spec(), x, methods, threads)
        maps = job.result(timeout=300)
    for m in methods:
        np.testing.assert_allclose(maps[m], oracle[m].map, rtol=1e-5, atol=1e-7)
