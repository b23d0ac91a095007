"""The transforms the augmentation explorer offers, as data: each names its
torchvision.transforms.v2 class and its parameters (kind, default, bounds from
cnnviz.augment.limits), and turns chosen values into the class's keyword arguments. Building,
validating and printing code all read this one table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torchvision.transforms import v2

from cnnviz.augment import limits
from cnnviz.errors import UnknownTransform
from cnnviz.limits import Limit, Span

Kind = Literal["int", "float", "range", "choice"]
# Rotations and affine maps interpolate bilinearly: torchvision's default (nearest) leaves
# jagged edges on a 32x32 digit.
BILINEAR = v2.InterpolationMode.BILINEAR


@dataclass(frozen=True)
class Param:
    """One setting of a transform: a whole number, a real number, a (low, high) range of real
    numbers, or one of a few choices."""

    name: str
    label: str
    kind: Kind
    default: Any
    limit: Limit | Span | None = None
    options: tuple[str, ...] = ()
    help: str = ""
    # An output side: its default is the source image's own side (224 for a photo, 32 for a
    # digit), so a crop of an 8x8 digit is not blown up to a photo's 224 px.
    image_side: bool = False


def _same(values: Mapping[str, Any]) -> dict[str, Any]:
    return dict(values)


@dataclass(frozen=True)
class TransformSpec:
    """One entry of the catalog: what the student picks, and how it becomes a v2 transform."""

    name: str  # as the page lists it
    cls: str  # the torchvision.transforms.v2 class
    what: str  # one line for the student
    params: tuple[Param, ...] = ()
    to_kwargs: Callable[[Mapping[str, Any]], dict[str, Any]] = field(default=_same)
    policy: bool = False  # an automatic policy: it draws its own operations

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The v2 class's keyword arguments for these (validated) values."""
        return self.to_kwargs(values)

    def build(self, values: Mapping[str, Any]) -> v2.Transform:
        return getattr(v2, self.cls)(**self.kwargs(values))


def _p(limit: Span = limits.PROBABILITY, default: float = 0.5) -> Param:
    return Param("p", "Probability", "float", default, limit, help="How often the step fires.")


def _elastic(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"alpha": float(values["alpha"]), "sigma": float(values["sigma"])}


def _affine(values: Mapping[str, Any]) -> dict[str, Any]:
    t = values["translate"]
    return {
        "degrees": float(values["degrees"]),
        "translate": (t, t),
        "scale": tuple(values["scale"]),
        "shear": float(values["shear"]),
        "interpolation": BILINEAR,
    }


def _blur(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"kernel_size": int(values["kernel_size"]), "sigma": tuple(values["sigma"])}


def _policy(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"policy": v2.AutoAugmentPolicy(values["policy"])}


def _ranges(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()}


SPECS: tuple[TransformSpec, ...] = (
    TransformSpec(
        "Horizontal flip",
        "RandomHorizontalFlip",
        "Mirror left-right: a cat is a cat either way, but a 3 mirrored is no digit.",
        (_p(),),
    ),
    TransformSpec(
        "Vertical flip",
        "RandomVerticalFlip",
        "Upside down: rarely a desired invariance for photos, never for digits (6 and 9).",
        (_p(),),
    ),
    TransformSpec(
        "Rotation",
        "RandomRotation",
        "Turn by an angle drawn uniformly from [-max, max]; the corners fill with black.",
        (Param("degrees", "Maximum angle (degrees)", "int", 30, limits.DEGREES),),
        lambda v: {"degrees": float(v["degrees"]), "interpolation": BILINEAR},
    ),
    TransformSpec(
        "Random resized crop",
        "RandomResizedCrop",
        "Keep a random part of the image (area and shape drawn), resized to a fixed side: "
        "ImageNet training's standard augmentation.",
        (
            Param("size", "Output side (pixels)", "int", 224, limits.CROP_SIDE, image_side=True),
            Param("scale", "Area kept (fraction)", "range", (0.3, 1.0), limits.AREA),
            Param("ratio", "Aspect ratio (w/h)", "range", (0.75, 1.33), limits.ASPECT),
        ),
        lambda v: {"size": int(v["size"]), "scale": tuple(v["scale"]), "ratio": tuple(v["ratio"])},
    ),
    TransformSpec(
        "Affine (rotate, shift, scale, shear)",
        "RandomAffine",
        "Rotate, shift, zoom and shear at once, each by a random amount.",
        (
            Param("degrees", "Maximum angle (degrees)", "int", 0, limits.DEGREES),
            Param("translate", "Maximum shift (fraction)", "float", 0.1, limits.TRANSLATE),
            Param("scale", "Scale range", "range", (0.9, 1.1), limits.SCALE),
            Param("shear", "Maximum shear (degrees)", "int", 10, limits.SHEAR),
        ),
        _affine,
    ),
    TransformSpec(
        "Perspective",
        "RandomPerspective",
        "Move the four corners inwards at random, as if seen from another viewpoint.",
        (
            Param("distortion_scale", "Distortion", "float", 0.5, limits.DISTORTION),
            _p(),
        ),
    ),
    TransformSpec(
        "Elastic",
        "ElasticTransform",
        "Displace every pixel along a smooth random field, like handwriting that wobbles.",
        (
            Param("alpha", "Strength (alpha)", "float", 50.0, limits.ELASTIC_ALPHA),
            Param("sigma", "Smoothness (sigma)", "float", 5.0, limits.ELASTIC_SIGMA),
        ),
        _elastic,
    ),
    TransformSpec(
        "Color jitter",
        "ColorJitter",
        "Brightness, contrast, saturation and hue, each by a random factor, in random order.",
        (
            Param("brightness", "Brightness", "float", 0.4, limits.JITTER),
            Param("contrast", "Contrast", "float", 0.4, limits.JITTER),
            Param("saturation", "Saturation", "float", 0.4, limits.JITTER),
            Param("hue", "Hue", "float", 0.1, limits.HUE),
        ),
    ),
    TransformSpec(
        "Grayscale",
        "RandomGrayscale",
        "Drop the color (the image keeps 3 identical channels).",
        (_p(default=0.5),),
    ),
    TransformSpec(
        "Gaussian blur",
        "GaussianBlur",
        "Blur with a Gaussian whose width (sigma) is drawn from a range.",
        (
            Param("kernel_size", "Kernel size (odd)", "int", 9, limits.BLUR_KERNEL),
            Param("sigma", "Sigma range (pixels)", "range", (0.1, 2.0), limits.BLUR_SIGMA),
        ),
        _blur,
    ),
    TransformSpec(
        "Gaussian noise",
        "GaussianNoise",
        "Noise injection on the inputs: add noise of standard deviation sigma to every pixel.",
        (Param("sigma", "Sigma (0-1 scale)", "float", 0.1, limits.NOISE_SIGMA),),
        lambda v: {"sigma": float(v["sigma"])},
    ),
    TransformSpec(
        "Random erasing",
        "RandomErasing",
        "Black out a random rectangle (cutout): the network must not rely on one part.",
        (
            _p(),
            Param("scale", "Area erased (fraction)", "range", (0.02, 0.33), limits.ERASE_AREA),
            Param("ratio", "Aspect ratio (h/w)", "range", (0.3, 3.3), limits.ASPECT),
        ),
        _ranges,
    ),
    TransformSpec(
        "AutoAugment",
        "AutoAugment",
        "A policy learned on a dataset: one of 25 pairs of operations, each with its chance.",
        (
            Param(
                "policy",
                "Learned on",
                "choice",
                "imagenet",
                options=tuple(p.value for p in v2.AutoAugmentPolicy),
            ),
        ),
        _policy,
        policy=True,
    ),
    TransformSpec(
        "RandAugment",
        "RandAugment",
        "N operations drawn at random, all at one magnitude: two numbers to tune.",
        (
            Param("num_ops", "Operations", "int", 2, limits.AUTO_OPS),
            Param("magnitude", "Magnitude (of 30)", "int", 9, limits.AUTO_MAGNITUDE),
        ),
        lambda v: {"num_ops": int(v["num_ops"]), "magnitude": int(v["magnitude"])},
        policy=True,
    ),
    TransformSpec(
        "TrivialAugmentWide",
        "TrivialAugmentWide",
        "One operation at a random magnitude: nothing to tune.",
        (Param("num_magnitude_bins", "Magnitude bins", "int", 31, limits.MAGNITUDE_BINS),),
        lambda v: {"num_magnitude_bins": int(v["num_magnitude_bins"])},
        policy=True,
    ),
    TransformSpec(
        "AugMix",
        "AugMix",
        "Several chains of random operations, mixed together and with the original.",
        (
            Param("severity", "Severity", "int", 3, limits.AUGMIX_SEVERITY),
            Param("mixture_width", "Chains", "int", 3, limits.AUGMIX_WIDTH),
            Param("chain_depth", "Chain depth", "int", -1, limits.AUGMIX_DEPTH),
            Param("alpha", "Alpha", "float", 1.0, limits.AUGMIX_ALPHA),
        ),
        lambda v: {
            "severity": int(v["severity"]),
            "mixture_width": int(v["mixture_width"]),
            "chain_depth": int(v["chain_depth"]),
            "alpha": float(v["alpha"]),
        },
        policy=True,
    ),
)
CATALOG: dict[str, TransformSpec] = {s.name: s for s in SPECS}


def spec(name: str) -> TransformSpec:
    """The catalog entry called `name`; UnknownTransform otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownTransform(
            f"There is no augmentation step called {name!r}; the steps are: {', '.join(CATALOG)}."
        ) from None
