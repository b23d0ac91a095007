"""What another page may read of this session's transfer-learning run (the Explain page): the
fine-tuned model's validation images, with their true and predicted classes.

Read-only: it finds what the page already keeps. `offer_trained` (results) stores the
TrainedModel under TRAINED and the id of the job that made it under TRAINED + "_job"; the job
runner keeps that job's FinetuneResult (its validation indices and predictions) until it is
freed; the dataset is the session's upload (DATASET) or a built-in one, and it is the run's only
when its labels count the run's confusion matrix again (cnnviz.explain.validation.same_run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import streamlit as st

from cnnviz.data import BUILTIN, ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.explain.validation import ValidationSet, same_run, validation_set
from cnnviz.jobs import default_runner
from cnnviz.train import FinetuneResult
from cnnviz.ui.jobs import owner_key
from cnnviz.ui.transfer_learning.data import DATASET, builtin
from cnnviz.ui.transfer_learning.results import TRAINED

TRAINED_JOB = TRAINED + "_job"


def run_result() -> FinetuneResult | None:
    """The result of the run whose model is in the session (None once the server freed it)."""
    job_id = st.session_state.get(TRAINED_JOB)
    if job_id is None or st.session_state.get(TRAINED) is None:
        return None
    try:
        result = default_runner().get(owner_key(), job_id).result(timeout=0)
    except (CnnvizError, TimeoutError):  # freed, failed or stopped without a result
        return None
    return result if isinstance(result, FinetuneResult) else None


def _candidates(size: int) -> Iterator[ImageDataset]:
    """The session's upload first, then the built-in datasets at the run's image side."""
    held = st.session_state.get(DATASET)
    if held is not None and isinstance(held[1], ImageDataset):
        yield held[1]
    loaders: list[Callable[[], ImageDataset]] = [
        lambda name=name: builtin(name, size) for name in BUILTIN
    ]
    for load in loaders:
        yield load()


def session_validation() -> ValidationSet | None:
    """The fine-tuned model's validation images, by class, misclassified first; None when the
    run or its dataset is no longer in this session."""
    result = run_result()
    if result is None or not result.val_indices:
        return None
    for data in _candidates(result.config.image_size):
        labels = data.labels.tolist()
        if data.classes == result.classes and same_run(
            labels, result.val_indices, result.val_predictions, result.confusion
        ):
            return validation_set(
                data.images,
                labels,
                data.paths,
                result.classes,
                result.val_indices,
                result.val_predictions,
            )
    return None
