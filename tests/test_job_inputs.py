"""Every job kind the app submits takes picklable inputs and gives a picklable result (issue 21:
a job may run in another process, on Ray): model specs, datasets by reference, plain values;
never a model or dataset object.

For each kind the arguments are built as its page builds them (small: LeNet-5 on the digits,
tiny datasets), pickled and compared with the originals, checked to hold no nn.Module, no
dataset object and no large array, then the job runs with a stub reporter and its result is
pickled and compared with itself (tensors and arrays bit for bit). A new `submit(` anywhere in
cnnviz/ or pages/ fails `test_every_submitted_job_kind_has_a_case` until it has a case here.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.data import ImageDataset, digits
from cnnviz.experiments import EXPERIMENTS
from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain import models, reference_images
from cnnviz.explain.attribution import Params
from cnnviz.explain.feature_viz import Settings
from cnnviz.train import FinetuneConfig, finetune
from tests.train_cases import tiny

ROOT = Path(__file__).resolve().parents[1]
ARGS_BYTES = 1 << 20  # a job's pickled inputs: a reference to data, never the data (1 MiB)
FORBIDDEN = (nn.Module, ImageDataset, models.Explained)


class StubReporter:
    """What a job's `report` is (cnnviz.jobs.Reporter): a callable of keywords, on the CPU."""

    device = "cpu"
    stop_requested = False

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self,
        *,
        step: int | None = None,
        total: int | None = None,
        metrics: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        self.calls += 1


@dataclasses.dataclass(frozen=True)
class Case:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


# --- the arguments, as each page builds them ------------------------------------------------
def finetune_config() -> FinetuneConfig:
    return FinetuneConfig(
        backbone="resnet18", weights="none", strategy="linear", epochs=1, image_size=16,
        batch_size=8, device="cpu",
    )  # fmt: skip


def finetune_case() -> Case:
    """The Transfer learning page's run (cnnviz/ui/transfer_learning/training.py: start): the
    dataset by reference to the store (a content hash and a pin), as the page hands it."""
    from cnnviz.store import put_dataset

    return Case(finetune, (put_dataset(tiny()), finetune_config()))


def probe_case() -> Case:
    """The Transfer learning page's estimate (cnnviz/ui/transfer_learning/estimate.py), the
    dataset by reference too."""
    from cnnviz.store import put_dataset
    from cnnviz.ui.transfer_learning.estimate import probe

    return Case(probe, (put_dataset(tiny()), finetune_config()))


def experiment_case(name: str) -> Case:
    """A live experiment's Run button (cnnviz/ui/experiments.py), at the tests' size."""
    experiment = EXPERIMENTS[name]
    return Case(experiment.run, (experiment.configure("tiny", 0),))


@functools.cache
def lenet_input() -> tuple[models.Explained, torch.Tensor]:
    """The Explain page's default: LeNet-5 and its first validation digit, preprocessed."""
    from cnnviz.explain import default_model

    model = models.default()
    data = digits(default_model.SIDE)
    k = int(default_model.split()[1][0])
    return model, model.preprocess(data.images[k].permute(1, 2, 0).numpy())


FEW = Params(steps=4, samples=2, window=8, stride=8, layer="c3", seed=3)


def explain_maps_case() -> Case:
    """cnnviz/ui/explain/attributions.py: the slow methods as a job (the page's args)."""
    model, x = lenet_input()
    slow = ["integrated_gradients", "smoothgrad", "occlusion"]
    return Case(explain_jobs.explain_maps, (model.spec(), x, 1, slow, FEW))


def check_sanity_case() -> Case:
    """cnnviz/ui/explain/sanity.py sanity_check."""
    model, x = lenet_input()
    return Case(explain_jobs.check_sanity, (model.spec(), x, ["saliency", "gradcam"], FEW, 1))


def study_channels_case() -> Case:
    """cnnviz/ui/explain/feature_viz.py: the default model's validation digits, by name."""
    from cnnviz.ui.explain.feature_viz import reference_images

    model, _ = lenet_input()
    pictures = reference_images(model)[0]
    settings = Settings(steps=3, seed=1)
    return Case(explain_jobs.study_channels, (model.spec(), "c3", [0, 5], settings, pictures, 3))


@functools.cache
def fine_tuned() -> models.Explained:
    """A session's fine-tuned model as the Explain page gets it (the Transfer learning
    page's run, then models.trained)."""
    torch.manual_seed(0)
    result = finetune(tiny(), finetune_config(), report=StubReporter())
    trained = result.trained()
    _SESSION.append(trained)  # the session keeps it (the spec's registry holds it weakly)
    return models.trained(trained)


_SESSION: list[Any] = []


def fine_tuned_maps_case() -> Case:
    """A fine-tuned model's maps: its spec names the file written to the model store."""
    model = fine_tuned()
    x = model.preprocess(torch.full((3, 16, 16), 128, dtype=torch.uint8))
    return Case(explain_jobs.explain_maps, (model.spec(), x, 0, ["integrated_gradients"], FEW))


@functools.cache
def run_validation_images() -> np.ndarray:
    """A fine-tuned run's validation images as the page picks them (cnnviz.ui.explain.feature_viz:
    reference_images), for a dataset of 800 images at 32 px: 400 in the validation split."""
    from cnnviz.explain.validation import validation_set
    from cnnviz.ui.explain import feature_viz as page

    data = tiny(n_per_class=400, side=32)
    labels = data.labels.tolist()
    val = list(range(0, len(labels), 2))
    validation = validation_set(data.images, labels, None, data.classes, val, [0] * len(val))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(page, "trained_validation", lambda: validation)
        pictures, names, what = page.reference_images(fine_tuned())
    assert what == "validation images of your run" and len(names) == len(val)
    return pictures


def fine_tuned_study_case() -> Case:
    """Feature visualization of a fine-tuned model against its run's validation images,
    which the page stores by content hash when the job starts (reference_images.by_reference)."""
    model = fine_tuned()
    pictures = reference_images.by_reference(run_validation_images())
    settings = Settings(steps=3, side=32, seed=2)
    return Case(
        explain_jobs.study_channels, (model.spec(), "layer1", [1, 2], settings, pictures, 4)
    )


CASES: dict[str, Callable[[], Case]] = {
    "finetune": finetune_case,
    "estimate probe": probe_case,
    **{f"experiment {name}": functools.partial(experiment_case, name) for name in EXPERIMENTS},
    "explain maps": explain_maps_case,
    "explain maps (fine-tuned)": fine_tuned_maps_case,
    "sanity check": check_sanity_case,
    "feature visualization": study_channels_case,
    "feature visualization (fine-tuned)": fine_tuned_study_case,
}


@pytest.fixture(autouse=True, scope="module")
def model_store(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(models.STORE_ENV, str(tmp_path_factory.mktemp("models")))
        yield


@functools.cache
def built(kind: str) -> Case:
    torch.manual_seed(0)
    return CASES[kind]()


@functools.cache
def ran(kind: str) -> Any:
    case = built(kind)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: one thread each is faster
    try:
        return case.fn(*case.args, **case.kwargs, report=StubReporter())
    finally:
        torch.set_num_threads(before)


# --- the oracle: equal after a round trip through pickle ------------------------------------
def same(a: Any, b: Any) -> bool:
    """Deep equality: tensors and arrays bit for bit (NaN equal to NaN), dataclasses field by
    field, containers element by element, floats with NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return (a.dtype, a.shape) == (b.dtype, b.shape) and bool(
            torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                  and torch.equal(a.nan_to_num(), b.nan_to_num()))
        )  # fmt: skip
    if isinstance(a, np.ndarray):
        nan = a.dtype.kind in "fc"
        return (a.dtype, a.shape) == (b.dtype, b.shape) and np.array_equal(a, b, equal_nan=nan)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))


class _Walker(pickle.Pickler):
    """A pickler that notes every object it writes (persistent_id sees each one)."""

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.seen: list[Any] = []

    def persistent_id(self, obj: Any) -> None:
        self.seen.append(obj)
        return None


def pickled_objects(value: Any) -> list[Any]:
    import io

    walker = _Walker(io.BytesIO())
    walker.dump(value)
    return walker.seen


# --- the tests ------------------------------------------------------------------------------
def test_the_oracle_tells_equal_from_different():
    assert same(
        {"a": [torch.tensor([1.0, float("nan")])]}, {"a": [torch.tensor([1.0, float("nan")])]}
    )
    assert not same(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))
    assert not same(np.zeros(3, np.uint8), np.zeros(3, np.int64))
    assert not same(FEW, dataclasses.replace(FEW, seed=4))
    assert not same([1, 2], (1, 2))
    # the walker finds a module however deep it sits
    nested = {"x": [(1, FEW, {"deep": nn.Linear(2, 2)})]}
    assert any(isinstance(o, nn.Linear) for o in pickled_objects(nested))


@pytest.mark.parametrize("kind", list(CASES))
def test_job_inputs_pickle_and_name_no_objects(kind):
    case = built(kind)
    data = pickle.dumps((case.args, case.kwargs))
    assert same(pickle.loads(data), (case.args, case.kwargs))
    seen = pickled_objects((case.args, case.kwargs))
    assert not any(isinstance(o, nn.Module) for o in seen), f"{kind} passes a model"
    held = [type(o).__name__ for o in seen if isinstance(o, FORBIDDEN)]
    assert held == [], f"{kind} passes objects: {held}"
    assert len(data) <= ARGS_BYTES, f"{kind}'s inputs take {len(data):,} bytes pickled"


@pytest.mark.parametrize("kind", list(CASES))
def test_job_results_pickle_and_round_trip(kind):
    result = ran(kind)
    again = round_trip(result)
    assert same(again, result)
    assert not any(isinstance(o, nn.Module) for o in pickled_objects(result))


def test_a_job_gives_the_same_maps_as_the_model_object():
    """The spec resolves to the page's own model: the job's maps are the library's."""
    from cnnviz.explain import attribution

    model, x = lenet_input()
    case = built("explain maps")
    direct = attribution.explain_all(model, x, 1, case.args[3], FEW)
    from_job = ran("explain maps")
    assert list(from_job) == list(direct)
    for m in direct:
        assert np.array_equal(from_job[m].map, direct[m].map), m


def test_images_by_reference_are_the_images_and_small():
    """The run's validation images would pass the bound no better than a dataset; their
    reference (a file of the model store, named by content) loads them back bit for bit."""
    pictures = run_validation_images()
    assert len(pickle.dumps(pictures)) > ARGS_BYTES
    reference = reference_images.by_reference(pictures)
    assert len(pickle.dumps(reference)) < 1024
    loaded = round_trip(reference).load()[0]
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, pictures)
    assert reference_images.by_reference(pictures.copy()) == reference  # once per content


# --- every submit( has a case ---------------------------------------------------------------
def _first_args(name: str) -> set[tuple[str, str]]:
    """(file, the first argument's source) of every call of `<x>.{name}(` / `{name}(` in
    cnnviz/ and pages/, the job runner itself and thread pools left out."""
    found = set()
    for path in [*(ROOT / "cnnviz").rglob("*.py"), *(ROOT / "pages").rglob("*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("cnnviz/jobs/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if called == name and owner != "pool":
                found.add((rel, ast.unparse(node.args[0])))
    return found


# A submit site's first argument -> the cases that cover it.
COVERED = {
    "finetune": {"finetune"},
    "probe": {"estimate probe"},
    "experiment.run": {f"experiment {n}" for n in EXPERIMENTS},
    "fn": set(),  # cnnviz/ui/explain/common.py job(): its callers below
    "explain_jobs.explain_maps": {"explain maps", "explain maps (fine-tuned)"},
    "explain_jobs.check_sanity": {"sanity check"},
    "explain_jobs.study_channels": {"feature visualization", "feature visualization (fine-tuned)"},
}


def test_every_submitted_job_kind_has_a_case():
    sites = _first_args("submit")
    helpers = {arg for file, arg in _first_args("job") if file.startswith("cnnviz/ui/")}
    assert {arg for _, arg in sites} == {"finetune", "probe", "experiment.run", "fn"}
    assert helpers == {
        "explain_jobs.explain_maps", "explain_jobs.check_sanity", "explain_jobs.study_channels"
    }  # fmt: skip
    for arg in {arg for _, arg in sites} | helpers:
        assert COVERED[arg] <= set(CASES), arg
    assert {f"explain_jobs.{f.__name__}" for f in explain_jobs.JOBS} == helpers
