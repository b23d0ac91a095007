"""Data augmentation (lecture section 1): a catalog of torchvision.transforms.v2 steps, a
validated pipeline of them, seeded draws that record what each step drew, and the equivalent
Python code."""

from cnnviz.augment.catalog import CATALOG, Param, TransformSpec, spec
from cnnviz.augment.pipeline import Step, build, make_step, validate

__all__ = ["CATALOG", "Param", "Step", "TransformSpec", "build", "make_step", "spec", "validate"]
