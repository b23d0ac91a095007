"""Every bound a student can hit, in one place: the pages take their widget limits from here and
the library refuses anything outside them with OutOfBounds (the CLI exits 2).

They keep any one request cheap on a 2-core server shared by a class. Shapes, parameters and MACs
are computed on PyTorch's meta device, where an input costs the same at any size, so their
limits are generous; the effective receptive field runs the real network on a real image, so
its limits are tighter.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cnnviz.errors import OutOfBounds
from cnnviz.notation import hwc


@dataclass(frozen=True)
class Limit:
    """The allowed range of one number a student types, and why it stops there."""

    what: str  # "input height", as a sentence says it
    low: int
    high: int
    why: str

    @property
    def bounds(self) -> dict[str, Any]:
        """min_value, max_value and help for a Streamlit number_input or slider."""
        return {"min_value": self.low, "max_value": self.high, "help": self.help}

    @property
    def help(self) -> str:
        """The range and the reason, for a widget's help text."""
        return f"From {self.low:,} to {self.high:,}. {self.why}"

    def check(self, value: Any, what: str | None = None) -> int:
        """`value` as an int; OutOfBounds (naming the range) when it is outside it."""
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not real or not math.isfinite(value) or value != int(value):
            raise OutOfBounds(
                f"The {what or self.what} must be a whole number, not {value!r}.",
                f"Use a whole number from {self.low:,} to {self.high:,}.",
            )
        if not self.low <= value <= self.high:
            raise OutOfBounds(
                f"The {what or self.what} is {int(value):,}: it must be from {self.low:,} to "
                f"{self.high:,}. {self.why}",
                f"Use a value from {self.low:,} to {self.high:,}.",
            )
        return int(value)


@dataclass(frozen=True)
class Span:
    """The allowed range of one real number a student picks (a probability, an angle, a
    factor), the slider's step, and why it stops there."""

    what: str
    low: float
    high: float
    step: float
    why: str

    @property
    def bounds(self) -> dict[str, Any]:
        """min_value, max_value, step and help for a Streamlit slider or number_input."""
        return {"min_value": self.low, "max_value": self.high, "step": self.step, "help": self.help}

    @property
    def help(self) -> str:
        return f"From {self.low:g} to {self.high:g}. {self.why}"

    @property
    def decimals(self) -> int:
        """Decimals of the step: values are rounded to them (a slider's 0.1 + 0.2 is 0.3)."""
        return max(0, -math.floor(math.log10(self.step))) if self.step < 1 else 0

    def check(self, value: Any, what: str | None = None) -> float:
        """`value` as a float rounded to the step's decimals; OutOfBounds outside the range."""
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not real or not math.isfinite(value):
            raise OutOfBounds(
                f"The {what or self.what} must be a number, not {value!r}.",
                f"Use a number from {self.low:g} to {self.high:g}.",
            )
        if not self.low <= value <= self.high:
            raise OutOfBounds(
                f"The {what or self.what} is {value:g}: it must be from {self.low:g} to "
                f"{self.high:g}. {self.why}",
                f"Use a value from {self.low:g} to {self.high:g}.",
            )
        return round(float(value), self.decimals + 2)


# --- A model's input (layer tables, architecture pages, CLI `summary` and `rf`) -------------
INPUT_SIDE = Limit(
    "input height or width",
    1,
    2048,
    "About 9 times ImageNet's 224: large enough to see how every volume follows the input.",
)
INPUT_DEPTH = Limit(
    "input depth (channels)",
    1,
    4096,
    "Eight times the deepest volume of VGG or ResNet's basic blocks (512).",
)

# --- Widths a student picks for a block or a module (builder options) ------------------------
WIDTH = Limit(
    "number of filters",
    1,
    4096,
    "As wide as the widest layer of the lecture's networks (AlexNet's and VGG's FC layers).",
)
BLOCK_DEPTH = Limit(
    "input depth",
    4,
    4096,
    "A bottleneck block first reduces the depth 4 times (256 to 64), so at least 4.",
)
STRIDE_OPTION = Limit("stride", 1, 16, "A block's stride is 1 or 2 in ResNet.")
# Builder options and the limit that bounds them; any other whole-number option is a width.
OPTION_LIMITS: dict[str, Limit] = {"stride": STRIDE_OPTION, "num_classes": WIDTH}

# --- One conv or pool layer (the layer calculator's first tab) --------------------------------
LAYER_SIDE = Limit(
    "input height or width",
    1,
    2048,
    "The calculator draws every input pixel a kernel tap touches.",
)
# The suggestions for a setting that does not fit try every group count up to the input depth.
LAYER_DEPTH = Limit("input depth", 1, 2048, "ResNet-50's deepest volume is 2048.")
# The drawing of the kernel over the padded input grows with the dilated kernel's span,
# d(k - 1) + 1: at most 125 here.
KERNEL = Limit("kernel size", 1, 32, "The lecture's kernels are 1 to 11; 32 leaves room to try.")
STRIDE = Limit("stride", 1, 64, "The lecture's strides are 1 to 4.")
PADDING = Limit("padding", 0, 64, "'Same' padding for the largest kernel (32) is 16.")
DILATION = Limit("dilation", 1, 4, "Dilated (atrous) 3x3 convolutions commonly use 2 or 4.")
FILTERS = Limit("number of filters", 1, 4096, "As many as AlexNet's and VGG's FC layers.")
GROUPS = Limit("number of groups", 1, 2048, "At most one group per input channel (depthwise).")

# --- The 1x1 bottleneck calculator and the Inception ops page (arithmetic only) ---------------
BOTTLENECK_SIDE = Limit("input height or width", 1, 2048, INPUT_SIDE.why)
STACKED_MODULES = Limit("number of stacked modules", 2, 9, "GoogLeNet has 9 Inception modules.")

# --- The effective receptive field: the real network on a real image -------------------------
FIELD_SIDE = Limit(
    "input height or width",
    1,
    512,
    "The effective field runs the real network on the picture at this size.",
)
FIELD_VALUES = Limit(
    "input (height x width x depth values)",
    1,
    2**20,
    "The effective field runs the real network: about a million input values, e.g. "
    "512x512x3 or 64x64x256.",
)
FIELD_PARAMS = Limit(
    "number of parameters",
    1,
    150_000_000,
    "The effective field builds the real network in memory; VGG-19 (143.7 M) is the largest "
    "that fits.",
)
# --- Data augmentation (cnnviz.augment): the explorer's pipeline and its grid of draws -------
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

# --- Uploaded pictures (read from the file's header before anything is decoded) --------------
UPLOAD_PIXELS = Limit(
    "image size in pixels",
    1,
    40_000_000,
    "Larger images are refused before they are decoded (40 megapixels are 120 MB as RGB).",
)


def check_upload(width: int | None, height: int | None, pixels: int | None = None) -> None:
    """An uploaded image's size, from its header; OutOfBounds above UPLOAD_PIXELS."""
    pixels = pixels if pixels is not None else (width or 0) * (height or 0)
    if pixels > UPLOAD_PIXELS.high:
        size = f"{width}x{height} pixels, " if width and height else ""
        raise OutOfBounds(
            f"The image is too large ({size}{pixels / 1e6:,.0f} megapixels): uploads are limited "
            f"to {UPLOAD_PIXELS.high // 1_000_000} megapixels. {UPLOAD_PIXELS.why}",
            f"Upload an image under {UPLOAD_PIXELS.high // 1_000_000} megapixels.",
        )


# The shared models (cnnviz.shared_model) hold at most this many parameters together: 1.2 GB.
SHARED_PARAMS = 300_000_000


def check_input(size: tuple[int, ...], side: Limit = INPUT_SIDE) -> tuple[int, int, int]:
    """A C, H, W input size within the limits, as ints; OutOfBounds otherwise."""
    if len(size) != 3:
        raise OutOfBounds(
            f"An input size is three numbers, depth, height and width; got {len(size)}.",
            "Give C,H,W, e.g. 3,224,224.",
        )
    c, h, w = size
    return (
        INPUT_DEPTH.check(c),
        side.check(h, "input height"),
        side.check(w, "input width"),
    )


def check_options(options: Mapping[str, Any]) -> None:
    """Whole-number builder options (block and branch widths, strides) within their limits."""
    for key, value in options.items():
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool):
                limit = OPTION_LIMITS.get(key, WIDTH)
                limit.check(v, f"{limit.what} ({key})")


def check_layer(spec: Any) -> None:
    """A one-layer calculator setting (cnnviz.layer_fit.LayerSpec) within the upper limits.

    Values below the lower limits stay the calculator's own business: it explains them (a
    kernel of 0) as problems of the layer rather than refusing them.
    """
    for field, limit in (
        ("height", LAYER_SIDE),
        ("width", LAYER_SIDE),
        ("channels", LAYER_DEPTH),
        ("kernel", KERNEL),
        ("stride", STRIDE),
        ("padding", PADDING),
        ("dilation", DILATION),
        ("filters", FILTERS),
        ("groups", GROUPS),
    ):
        value = getattr(spec, field)
        if value > limit.high:
            limit.check(value, {"height": "input height", "width": "input width"}.get(field))


def check_field_input(size: tuple[int, ...]) -> tuple[int, int, int]:
    """An input for the effective receptive field: sides and total values within the limits."""
    c, h, w = check_input(size, FIELD_SIDE)
    FIELD_VALUES.check(math.prod((c, h, w)), f"input ({hwc(h, w, c)} = {c * h * w:,} values)")
    return c, h, w


def check_unit(unit: tuple[int, ...], grid: tuple[int, ...], channels: int | None = None) -> None:
    """A unit (i, j) or (c, i, j) that exists on a rows x cols feature map (c < channels)."""
    *channel, i, j = unit
    rows, cols = grid
    if not (0 <= i < rows and 0 <= j < cols):
        raise OutOfBounds(
            f"Unit ({i}, {j}) is outside the {rows}x{cols} feature map.",
            f"Use a row from 0 to {rows - 1} and a column from 0 to {cols - 1}.",
        )
    if channel and channels is not None and not 0 <= channel[0] < channels:
        raise OutOfBounds(
            f"Channel {channel[0]} is outside the layer's {channels} channels.",
            f"Use a channel from 0 to {channels - 1}.",
        )


# What torch says when the operating system refuses an allocation at once.
_ALLOCATION_WORDS = ("can't allocate memory", "not enough memory", "out of memory")


def allocation_failure(err: BaseException, what: str) -> OutOfBounds | None:
    """A clear OutOfBounds for an allocation the machine refused (None for any other error):
    the raw allocator message means nothing to a student, and a larger input will not help."""
    text = str(err).lower()
    if isinstance(err, MemoryError) or any(w in text for w in _ALLOCATION_WORDS):
        return OutOfBounds(
            f"{what} needs more memory than this server can give one request.",
            "Use a smaller input, fewer channels or a smaller model.",
        )
    return None


# --- Datasets a student uploads for transfer learning (cnnviz.data) --------------------------
# Classroom defaults; a teacher changes them through cnnviz.data.DatasetLimits.
DATASET_ARCHIVE_BYTES = Limit(
    "archive size in bytes",
    1,
    200_000_000,
    "Streamlit's own upload limit is 200 MB; a classroom dataset is a few MB to a few 100 MB.",
)
DATASET_FILES = Limit(
    "number of files",
    1,
    5_000,
    "A classroom dataset is hundreds to a few thousand images, each decoded on a shared server.",
)
DATASET_BYTES = Limit(
    "total uncompressed size in bytes",
    1,
    1_000_000_000,
    "Everything is unpacked on the server's disk first: 1 GB at most per upload.",
)
DATASET_IMAGE_PIXELS = Limit(
    "image size in pixels",
    1,
    40_000_000,
    "Larger images are skipped before they are decoded (40 megapixels are 120 MB as RGB).",
)
DATASET_PIXELS = Limit(
    "pixels decoded for a whole dataset",
    1,
    1_000_000_000,
    "Decoding and resizing run at 30-60 megapixels a second on one core (measured): a billion "
    "pixels are 15-35 s. JPEGs count at the reduced scale they are decoded at.",
)
DATASET_IMAGE_SIZE = Limit(
    "image side after resizing",
    8,
    224,
    "The dataset stays in memory as N x 3 x S x S bytes: 1,000 images at 224 are 150 MB.",
)
WEIGHTS_FILE_BYTES = Limit(
    "weights file size in bytes",
    1,
    600_000_000,
    "VGG-16's ImageNet weights (528 MB), the largest of the transfer-learning backbones, fit.",
)
# Every file a student uploads, in MB of 2**20 bytes: equal to .streamlit/config.toml's
# server.maxUploadSize (a test reads it), since Streamlit 1.67 refuses any file over it whatever
# a widget's max_upload_size says. Not VGG-16's 528 MB: Streamlit holds each upload in memory
# for the session and the weights page writes a copy torch.load reads back (about 3x the file
# per student); ResNet-18 (45 MB), EfficientNet-B0 and MobileNetV3 fit, VGG-16's and AlexNet's
# files go through the CLI (`finetune --weights FILE`, up to WEIGHTS_FILE_BYTES from disk).
UPLOAD_MB = Limit(
    "uploaded file size in MB",
    1,
    200,
    "The server's limit per file: it holds each upload in memory while the session lasts.",
)
# What one session's folder on the server (its Workspace) may hold when a file is stored there,
# in MB of 2**20 bytes: the weights file in use and a queued run's. The teacher sets it with the
# environment variable CNNVIZ_SESSION_DISK_MB (cnnviz.data.workspace). A dataset is unpacked
# there only while it is decoded, bounded per upload by DATASET_BYTES.
SESSION_DISK_MB = Limit(
    "session folder size in MB",
    1,
    512,
    "Two files of the largest upload (200 MB) fit: the one in use and a queued run's. A class "
    "of 40 keeps at most 20 GB on the server's disk.",
)

# --- Explain: filters, feature maps and attributions of a trained network (cnnviz.explain) --
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


# --- Training a transfer-learning head or fine-tuning (cnnviz.train) --------------------------
TRAIN_EPOCHS = Limit(
    "number of epochs",
    1,
    100,
    "A linear probe's epoch on cached features takes milliseconds, a full fine-tune's epoch "
    "minutes on a CPU: the estimate before the start says which.",
)
TRAIN_BATCH_SIZE = Limit(
    "batch size",
    2,
    256,
    "Batch norm needs at least 2 images per batch; 256 images at 224 fill about 4 GB of "
    "activations in a ResNet-18 fine-tune.",
)
TRAIN_IMAGE_SIZE = Limit(
    "image side for training",
    16,
    224,
    "The ImageNet weights were trained at 224; smaller images train much faster (the cost "
    "grows with the square of the side). AlexNet needs 64 and VGG-16 32 at least.",
)
TRAIN_LAST_BLOCKS = Limit(
    "number of last blocks to fine-tune",
    1,
    15,
    "VGG-16, the deepest backbone here, has 15 (13 conv layers and FC6, FC7).",
)
TRAIN_SEED = Limit("seed", 0, 2**31 - 1, "Any whole number: the same seed, the same run.")
TRAIN_LR = Span(
    "learning rate",
    1e-6,
    1.0,
    1e-4,
    "Adam's usual learning rates are 1e-4 to 1e-2; pretrained layers want the small end.",
)
TRAIN_HEAD_LR_FACTOR = Span(
    "head learning-rate factor",
    1.0,
    100.0,
    0.5,
    "The new head starts from random weights and may learn faster than the pretrained blocks.",
)
TRAIN_VAL_FRACTION = Span(
    "validation fraction",
    0.05,
    0.5,
    0.05,
    "Each class keeps at least one image for validation and one for training.",
)


# --- Live experiments (cnnviz.experiments) ---------------------------------------------------
EXPERIMENT_SEED = Limit(
    "seed",
    0,
    9_999,
    "Any seed gives a fair run; the same seed gives the same numbers again.",
)
