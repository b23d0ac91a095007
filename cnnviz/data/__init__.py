"""Data in: uploads (zip or folder, ImageFolder layout) and built-in datasets as one uint8
tensor in memory, validated against the teacher's limits, unpacked only into a per-session
temporary folder. No streamlit here."""

from cnnviz.data.builtin import BUILTIN, digits, lfw
from cnnviz.data.dataset import (
    DatasetLimits,
    ImageDataset,
    Skipped,
    normalize,
    stratified_split,
)
from cnnviz.data.load import load_dataset, load_files
from cnnviz.data.weights_file import load_state_dict_file
from cnnviz.data.workspace import Workspace

__all__ = [
    "BUILTIN",
    "DatasetLimits",
    "ImageDataset",
    "Skipped",
    "Workspace",
    "digits",
    "lfw",
    "load_dataset",
    "load_files",
    "load_state_dict_file",
    "normalize",
    "stratified_split",
]
