"""Explain: filters, feature maps, attributions and feature visualization of a trained network
(cnnviz.explain). Every method runs the real network on the image."""

from __future__ import annotations

from cnnviz.limits import Limit

EXPLAIN_SIDE = Limit(
    "image side for the network",
    16,
    448,
    "Twice ImageNet's 224: every attribution method runs the real network on the image.",
)

IG_STEPS = Limit(
    "number of Integrated Gradients steps",
    1,
    256,
    "Each step is one forward and backward pass; 20 to 300 are usual (Sundararajan et al.).",
)

SMOOTHGRAD_SAMPLES = Limit(
    "number of SmoothGrad samples",
    1,
    64,
    "Each sample is one noisy gradient; SmoothGrad's paper finds 50 enough.",
)

SMOOTHGRAD_NOISE = Limit(
    "SmoothGrad noise (percent of the input's range)",
    1,
    50,
    "SmoothGrad's paper finds 10 to 20 percent best.",
)

OCCLUSION_WINDOW = Limit(
    "occlusion window side",
    1,
    128,
    "The gray patch slid over the image; a quarter to a tenth of the image is usual.",
)

OCCLUSION_STRIDE = Limit(
    "occlusion stride",
    1,
    128,
    "Each window position is one forward pass: a small stride on a large image is slow.",
)

OCCLUSION_POSITIONS = Limit(
    "number of occlusion windows",
    1,
    1_024,
    "Each window position is one forward pass of the network.",
)

TOP_CHANNELS = Limit(
    "number of feature maps shown", 1, 64, "A grid of 64 maps still fits on the screen."
)

EXPLAIN_SEED = Limit(
    "seed",
    0,
    2**31 - 1,
    "The same seed gives the same SmoothGrad noise and the same random weights in the sanity "
    "check, so the same map.",
)

FEATURE_VIZ_STEPS = Limit(
    "number of optimization steps",
    1,
    1_024,
    "Each step is one forward and backward pass; Lucid's default is 512, LeNet-5 needs ~200.",
)

FEATURE_VIZ_SIDE = Limit(
    "side of the optimized image",
    16,
    256,
    "Every step runs the network on the image: ImageNet's 224 fits, larger is slow on a CPU.",
)

FEATURE_VIZ_CHANNELS = Limit(
    "number of channels visualized at once",
    1,
    8,
    "The channels are optimized as one batch: eight images cost eight times one.",
)

FEATURE_VIZ_TOP = Limit(
    "number of top validation images per channel",
    1,
    16,
    "One row of images per channel still fits on the screen.",
)

DIGIT_INDEX = Limit(
    "digit (index in the validation split)",
    0,
    358,
    "The default model's validation split: 359 of the 1,797 digits, never trained on.",
)
