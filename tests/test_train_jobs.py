"""finetune as a job of cnnviz.jobs: a stop request ends it within 2 s with the model trained
so far, and its progress is what the page draws."""

from __future__ import annotations

import time

import pytest
from train_cases import one_thread, tiny  # noqa: F401

from cnnviz.jobs import JobRunner, JobState
from cnnviz.train import FinetuneConfig, FinetuneResult, finetune

pytestmark = pytest.mark.usefixtures("one_thread")


def _wait_for(predicate: object, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < end, "the job never got there"
        time.sleep(0.02)


def test_stop_returns_the_partial_model_within_2_seconds() -> None:
    runner = JobRunner()
    config = FinetuneConfig(
        backbone="mobilenet_v3_small", weights="none", strategy="full", epochs=100,
        image_size=16, batch_size=2,
    )  # fmt: skip
    handle = runner.submit(finetune, tiny(n_per_class=10), config, session="s", device="cpu")
    # Wait for an epoch point, so that the partial result has a history.
    _wait_for(lambda: any("batch" not in m for m in handle.progress().metrics))
    progress = handle.progress()
    assert progress.state is JobState.RUNNING and progress.message.startswith("Epoch ")
    handle.stop()
    assert handle.done(timeout=2.0)
    assert handle.state is JobState.STOPPED
    result = handle.result(timeout=0)
    assert isinstance(result, FinetuneResult) and result.stopped
    assert 1 <= len(result.history) < 100
    assert result.val_accuracy == result.history[-1]["val_accuracy"]
    assert result.state_dict  # the model so far, ready to save


def test_stop_during_feature_extraction() -> None:
    runner = JobRunner()
    config = FinetuneConfig(
        backbone="resnet18", weights="none", strategy="linear", epochs=5, image_size=64,
        batch_size=2,
    )  # fmt: skip
    handle = runner.submit(finetune, tiny(n_per_class=200, side=64), config, session="s")
    _wait_for(lambda: handle.progress().step >= 2)
    assert handle.progress().message == "Extracting features"
    handle.stop()
    assert handle.done(timeout=2.0)
    result = handle.result(timeout=0)
    assert result.stopped and result.history == [] and result.val_accuracy is None
    assert result.confusion == [] and result.per_class_accuracy == {}
