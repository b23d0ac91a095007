"""Data augmentation (cnnviz.augment): the explorer's pipeline and its grid of draws."""

from __future__ import annotations

from cnnviz.limits import Limit, Span

PROBABILITY = Span("probability", 0.0, 1.0, 0.05, "The chance that the step fires on each draw.")

DEGREES = Limit("maximum angle in degrees", 0, 180, "A draw turns by up to this many degrees.")

SHEAR = Limit("maximum shear in degrees", 0, 45, "Beyond 45 degrees the image is a thin sliver.")

TRANSLATE = Span(
    "maximum shift (fraction of the side)", 0.0, 0.5, 0.05, "Half the side moves the center out."
)

SCALE = Span("scale factor", 0.1, 2.0, 0.05, "From a tenth of the image to twice its size.")

AREA = Span("fraction of the area", 0.01, 1.0, 0.01, "The share of the image the crop keeps.")

ERASE_AREA = Span("erased fraction of the area", 0.01, 0.9, 0.01, "Some of the image must stay.")

ASPECT = Span("aspect ratio (width / height)", 0.1, 10.0, 0.05, "From a tall strip to a wide one.")

CROP_SIDE = Limit(
    "output side in pixels", 8, 512, "ImageNet training crops 224; the grid shows every draw."
)

DISTORTION = Span("distortion", 0.0, 1.0, 0.05, "1 moves a corner up to half the side.")

ELASTIC_ALPHA = Span("elastic strength (alpha)", 0.0, 250.0, 5.0, "torchvision's default is 50.")

ELASTIC_SIGMA = Span(
    "elastic smoothness (sigma)", 0.5, 20.0, 0.5, "Larger is smoother; the default is 5."
)

JITTER = Span("jitter", 0.0, 1.0, 0.05, "A factor drawn from [1 - x, 1 + x] (0 leaves it alone).")

HUE = Span("hue jitter", 0.0, 0.5, 0.01, "Half a turn of the color wheel either way at most.")

BLUR_KERNEL = Limit("blur kernel size (odd)", 1, 31, "Odd, so the kernel has a center pixel.")

BLUR_SIGMA = Span(
    "blur sigma", 0.1, 10.0, 0.1, "The standard deviation of the Gaussian, in pixels."
)

NOISE_SIGMA = Span(
    "noise sigma", 0.0, 1.0, 0.01, "On the 0-1 scale of the pixel values: 1 drowns the image."
)

AUTO_OPS = Limit("number of operations", 0, 6, "RandAugment's paper uses 1 to 3.")

AUTO_MAGNITUDE = Limit("magnitude", 0, 30, "RandAugment's 31 magnitude bins: 0 to 30.")

MAGNITUDE_BINS = Limit("number of magnitude bins", 2, 64, "torchvision's default is 31.")

AUGMIX_SEVERITY = Limit("severity", 1, 10, "torchvision accepts 1 to 10.")

AUGMIX_WIDTH = Limit("number of chains (mixture width)", 1, 5, "The AugMix paper uses 3.")

AUGMIX_DEPTH = Limit("chain depth (-1: 1 to 3 at random)", -1, 5, "The AugMix paper uses 1 to 3.")

AUGMIX_ALPHA = Span("Dirichlet alpha", 0.1, 10.0, 0.1, "1 mixes the chains uniformly at random.")

PIPELINE_STEPS = Limit("number of steps", 0, 12, "Each step runs on every draw of the grid.")

DRAWS = Limit("number of draws", 1, 24, "The lecture multiplies the data by 6; 24 fill 4 rows.")

SEED = Limit("seed", 0, 2**31 - 1, "The same seed gives the same draws.")

AUGMENT_SIDE = Limit(
    "working image side in pixels", 8, 512, "Every draw runs on a square image of this side."
)
