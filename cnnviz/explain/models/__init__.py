"""The networks the Explain views look into, behind one interface (`Explained`):

- the default LeNet-5 trained on the digits (assets/lenet5_digits.pt), always offline;
- a torchvision ImageNet model whose pretrained weights are in the cache (class names from the
  weights' meta["categories"], preprocessing from the weights' own transforms), or the same
  architecture with seeded random weights (tests, benches, the sanity check's lesson);
- a session's fine-tuned model (cnnviz.train's TrainedModel: .model, .classes, .backbone,
  .image_size, .preprocess).

Every model is used through `Explained.borrow()`: under the model's lock, with gradients of the
weights switched off, and left exactly as found (cnnviz.shared_model.as_found), since captum
registers hooks and a model may be shared by every session of the server.

A job never receives the model itself: it receives its `ModelSpec` (`Explained.spec()`: source,
name, weights, file; it pickles, so a job may run in another process) and calls `resolve`
once, which gives back this process's one copy of that model: the shared_model registry's, the
default LeNet-5's, a fine-tuned model this process already holds, or one built from the spec's
file and kept (least recently used out) so that a worker builds each model once, never per job.
A fine-tuned model is written once to the store's files (`files/` in CNNVIZ_STORE's folder,
cnnviz.store), named by its content hash, where another process on the machine (or a cluster
sharing the folder) reads it.

One module per kind of place a network comes from: `explained` (the interface and the spec),
`catalog` (by name: the default LeNet-5, torchvision's ImageNet models), `from_file` (a
fine-tuned model, a state dict) and `resolve` (a spec back to its network).
"""

from cnnviz.explain.models.catalog import (
    DEFAULT_SPEC,
    EXTRA_TITLES,
    _default,
    _imagenet_weights,
    by_name,
    default,
    imagenet,
    imagenet_names,
    predict,
    torchvision_names,
    weights_names,
)
from cnnviz.explain.models.explained import (
    DEFAULT,
    SOURCES,
    Explained,
    ModelSpec,
    Preprocess,
    TrainedLike,
    _private,
)
from cnnviz.explain.models.from_file import (
    STORE_ENV,
    _held,
    load_trained_file,
    trained,
    with_weights,
)
from cnnviz.explain.models.resolve import BUILT_KEPT, _built, resolve

__all__ = [
    "BUILT_KEPT",
    "DEFAULT",
    "DEFAULT_SPEC",
    "EXTRA_TITLES",
    "SOURCES",
    "STORE_ENV",
    "Explained",
    "ModelSpec",
    "Preprocess",
    "TrainedLike",
    "_built",
    "_default",
    "_held",
    "_imagenet_weights",
    "_private",
    "by_name",
    "default",
    "imagenet",
    "imagenet_names",
    "load_trained_file",
    "predict",
    "resolve",
    "torchvision_names",
    "trained",
    "weights_names",
    "with_weights",
]
