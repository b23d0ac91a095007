"""The transfer-learning page's widgets, one module per section of the page: the dataset
(`data`: built in or uploaded, decoded once per session), the set-up (`setup`), the estimate
(`estimate`), the live training panel (`training`) and the results (`results`). `common` holds
the key prefix and the session's temporary folder. pages/transfer_learning.py uses them as
`ui.<function>`. `validation` is what the Explain page reads: the fine-tuned model's
validation images."""

from cnnviz.ui.transfer_learning.common import KEY, WORKSPACE, workspace
from cnnviz.ui.transfer_learning.data import (
    DATASET,
    SOURCES,
    builtin,
    choose_source,
    dataset,
    image_size,
    show_dataset,
    uploaded_dataset,
)
from cnnviz.ui.transfer_learning.estimate import ESTIMATE, estimated_seconds, show_estimate
from cnnviz.ui.transfer_learning.results import (
    TRAINED,
    cell_images,
    confusion_picker,
    download,
    loading_snippet,
    model_bytes,
    offer_trained,
    predict_panel,
    predict_upload,
    show_mistakes,
    show_scores,
)
from cnnviz.ui.transfer_learning.setup import (
    STRATEGY_NAMES,
    TABLE_NAMES,
    WEIGHT_NAMES,
    choose_config,
    choose_weights,
    last_blocks_limit,
    strategy_table,
    weights_file,
)
from cnnviz.ui.transfer_learning.training import (
    JOB,
    JOB_EPOCHS,
    finished_result,
    job,
    live_panel,
    start,
)
from cnnviz.ui.transfer_learning.validation import session_validation

__all__ = [
    "DATASET",
    "ESTIMATE",
    "JOB",
    "JOB_EPOCHS",
    "KEY",
    "SOURCES",
    "STRATEGY_NAMES",
    "TABLE_NAMES",
    "TRAINED",
    "WEIGHT_NAMES",
    "WORKSPACE",
    "builtin",
    "cell_images",
    "choose_config",
    "choose_source",
    "choose_weights",
    "confusion_picker",
    "dataset",
    "download",
    "estimated_seconds",
    "finished_result",
    "image_size",
    "job",
    "last_blocks_limit",
    "live_panel",
    "loading_snippet",
    "model_bytes",
    "offer_trained",
    "predict_panel",
    "predict_upload",
    "session_validation",
    "show_dataset",
    "show_estimate",
    "show_mistakes",
    "show_scores",
    "start",
    "strategy_table",
    "uploaded_dataset",
    "weights_file",
    "workspace",
]
