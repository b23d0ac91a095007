"""Transfer learning: a torchvision backbone with a new head trained on a student's dataset,
as a linear probe, a fine-tune of the last blocks or a full fine-tune. No streamlit here.

`finetune` is a job function for cnnviz.jobs: plain picklable inputs, reports through
`report`, returns a FinetuneResult.
"""

from cnnviz.train.advice import SMALL_BELOW, Recommendation, recommend
from cnnviz.train.backbones import (
    BACKBONES,
    STRATEGIES,
    WEIGHTS,
    backbone_weights_status,
    block_names,
    check_weights_file,
    default_weights,
    weights_file_mb,
)
from cnnviz.train.config import FinetuneConfig
from cnnviz.train.estimate import Estimate, estimate
from cnnviz.train.export import TrainedModel, load_trained, predict, snippet
from cnnviz.train.loop import finetune
from cnnviz.train.result import FinetuneResult, save_trained

__all__ = [
    "BACKBONES",
    "SMALL_BELOW",
    "STRATEGIES",
    "WEIGHTS",
    "Estimate",
    "FinetuneConfig",
    "FinetuneResult",
    "Recommendation",
    "TrainedModel",
    "backbone_weights_status",
    "block_names",
    "check_weights_file",
    "default_weights",
    "estimate",
    "finetune",
    "load_trained",
    "predict",
    "recommend",
    "save_trained",
    "snippet",
    "weights_file_mb",
]
