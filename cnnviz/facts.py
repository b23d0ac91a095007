"""The lecture's facts, checked numbers and the slides' errata (source: lecture-facts.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Winner:
    """One ILSVRC classification result."""

    year: int
    name: str
    top5_error: float  # percent
    depth: int | None  # layers with weights; 0 = shallow (no deep net); None = not given
    page: str | None = None  # the app page that builds it
    note: str = ""


ILSVRC_WINNERS: tuple[Winner, ...] = (
    Winner(2010, "Lin et al.", 28.2, 0, note="shallow"),
    Winner(2011, "Sanchez & Perronnin", 25.8, 0, note="shallow"),
    Winner(2012, "AlexNet", 16.4, 8, "AlexNet", "15.3 for the entry trained with extra data"),
    Winner(2013, "ZFNet", 11.7, 8, "AlexNet", "an AlexNet with tuned first layers"),
    Winner(2014, "VGG", 7.3, 19, "VGG", "2nd in classification, 1st in localization"),
    Winner(2014, "GoogLeNet", 6.7, 22, "GoogLeNet", "winner"),
    Winner(2015, "ResNet", 3.57, 152, "ResNet"),
    Winner(2016, "Shao et al.", 3.0, None),
    Winner(2017, "SENet", 2.25, None),
)
HUMAN_TOP5_ERROR = 5.1  # Russakovsky et al. / Karpathy

# ResNet-50's bottleneck, glued with no-break spaces so that it never breaks across lines.
BOTTLENECK_CHAIN = "\u00a0\u2192\u00a0".join(("1x1", "3x3", "1x1"))
TOPICS = ("data augmentation", "transfer learning", "common architectures")


@dataclass(frozen=True)
class Erratum:
    """Where a slide and the arithmetic disagree: the app shows the computed number."""

    topic: str
    slide_says: str
    computed: str
    why: str


# Checked numbers the pages quote; tests recompute each of them from the engine.
LENET5_PAPER_TRAINABLE = 60_000
LENET5_MODERN_PARAMS = 61_706
LENET5_C3_TABLE_PARAMS = 1_516
LENET5_C3_FULL_PARAMS = 2_416
LENET5_CONNECTIONS = 340_908
ALEXNET_LECTURE_PARAMS = 62_378_344
ALEXNET_PAPER_PARAMS = 60_965_224
VGG16_PARAMS = 138_357_544
VGG16_FC_PARAMS = 123_642_856
VGG16_ACTIVATION_VALUES = 15_237_608
INCEPTION_NAIVE_MACS = 854_196_224
INCEPTION_BOTTLENECK_MACS = 271_351_808
GOOGLENET_TORCHVISION_PARAMS = 6_624_904
ALEXNET_TORCHVISION_PARAMS = 61_100_840
# Szegedy et al. 2014: "12 times fewer parameters than the winning architecture of Krizhevsky
# et al.": about 5M against about 60M. The paper's own claim, not a slide's error.
GOOGLENET_PAPER_CLAIM = "12x fewer parameters than AlexNet (about 5M against 60M)"

ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "VGG",
        "TOTAL memory: 24M * 4 bytes ~= 96MB / image (forward)",
        f"{VGG16_ACTIVATION_VALUES:,} activation values = "
        f"{VGG16_ACTIVATION_VALUES * 4 / 1e6:.0f} MB in float32",
        "the slide's own per-layer rows add up to 15.2M values, not 24M",
    ),
    Erratum(
        "GoogLeNet",
        "Total: 358M ops (bottleneck Inception module)",
        f"{INCEPTION_BOTTLENECK_MACS:,} MACs (271M)",
        "its own five terms add up to 271M; 358M comes out only if the 3x3 term is counted "
        "twice (or its input depth is taken as 128)",
    ),
    Erratum(
        "ResNet",
        "Weight decay of 1e-5",
        "weight decay 1e-4",
        "He et al. 2015 (section 3.4) train with a weight decay of 0.0001",
    ),
)


def errata(topic: str) -> list[Erratum]:
    """The errata a page touches."""
    return [e for e in ERRATA if e.topic == topic]


RECIPES: dict[str, tuple[str, ...]] = {
    "LeNet-5": (
        "5x5 convolutions at stride 1, 2x2 subsampling at stride 2, 32x32x1 input",
        "tanh-like squashing; C1..F6 hold exactly 60,000 trainable parameters",
        "340,908 connections; the RBF output layer (840 connections) is fixed, not trained",
        "digit recognition (MNIST), LeCun et al. 1998",
    ),
    "AlexNet": (
        "first use of ReLU",
        "local response normalization (LRN): not common anymore",
        "heavy data augmentation; dropout 0.5",
        "batch size 128; SGD with momentum 0.9",
        "learning rate 1e-2, divided by 10 by hand when validation accuracy plateaus",
        "L2 weight decay 5e-4",
        "7-CNN ensemble: top-5 error 18.2% -> 15.4%",
    ),
    "VGG": (
        "only 3x3 conv (stride 1, pad 1) and 2x2 max pool (stride 2); 16-19 layers",
        "training similar to AlexNet; no LRN",
        "VGG16 or VGG19 (VGG19 only slightly better, more memory)",
        "FC7 features generalize well to other tasks",
        "ILSVRC'14: 2nd in classification (7.3% top-5), 1st in localization",
    ),
    "GoogLeNet": (
        "22 layers with parameters, 9 Inception modules",
        "1x1 'bottleneck' convolutions cut the Inception module's cost",
        "no fully connected layers except the classifier",
        "ILSVRC'14 classification winner: 6.7% top-5 error",
    ),
    "ResNet": (
        "batch normalization after every conv layer",
        "He ('Xavier/2') initialization",
        "SGD with momentum 0.9; learning rate 0.1, divided by 10 when validation error plateaus",
        "mini-batch 256; weight decay 1e-4 (the slide's 1e-5 is an erratum); no dropout",
        "152 layers on ImageNet, 1202 on CIFAR-10 (19.4M params, 7.93% test error: "
        "worse than 110 layers, overfitting)",
        "swept ILSVRC and COCO 2015: 3.57% top-5",
    ),
}

KEY_FACTS: dict[str, tuple[str, ...]] = {
    "LeNet-5": (
        "C1 6@5x5 -> 28x28x6 (156 params); S2 -> 14x14x6 (12); C3 16@5x5 -> 10x10x16 "
        "(1,516 with the connection table, 2,416 fully connected)",
        "S4 -> 5x5x16 (32); C5 120@5x5 -> 1x1x120 (48,120); F6 84 (10,164)",
        "a modern LeNet-5 (full C3, plain pooling, linear 84->10 output) has 61,706 parameters",
    ),
    "AlexNet": (
        "input 227x227x3 on the slides (the paper says 224, which does not divide)",
        "CONV1: 96 11x11 filters at stride 4 -> (227-11)/4+1 = 55: 55x55x96, 34,944 parameters "
        "(the slide's '35K' is 11*11*3*96 without biases)",
        "pooling has no parameters",
        "one stream: 62,378,344 parameters; the paper's two-GPU groups: 60,965,224 ('60M')",
    ),
    "VGG": (
        "two stacked 3x3 convs see 5x5, three see 7x7: more non-linearities, fewer parameters "
        "(27C^2 vs 49C^2)",
        "VGG16: 138,357,544 parameters, 15.47 G MACs; VGG19: 143,667,240",
        "the three FC layers hold 123,642,856 of VGG16's parameters (89%); the convolutions do "
        "nearly all the MACs",
    ),
    "GoogLeNet": (
        "naive Inception module on 28x28x256: 854,196,224 MACs, output 28x28x672",
        "with 1x1 bottlenecks: 271,351,808 MACs, output 28x28x480",
        "the pool branch keeps the depth, so without bottlenecks depth can only grow",
        "torchvision quirk: its '5x5' branch uses a 3x3 convolution",
        f"the paper's claim: {GOOGLENET_PAPER_CLAIM}; torchvision's GoogLeNet has "
        f"{GOOGLENET_TORCHVISION_PARAMS:,}, about "
        f"{ALEXNET_TORCHVISION_PARAMS / GOOGLENET_TORCHVISION_PARAMS:.0f}x fewer than "
        f"torchvision's AlexNet ({ALEXNET_TORCHVISION_PARAMS:,})",
    ),
    "ResNet": (
        "deeper plain nets train worse: a 56-layer plain net has higher training error than a "
        "20-layer one (He et al. 2015, Fig. 1): an optimization problem, not overfitting",
        "residual learning: fit F(x) = H(x) - x and output H(x) = F(x) + x",
        "double the filters and halve the size with stride 2; global average pool; one FC",
        f"ResNet-50+ use the bottleneck block {BOTTLENECK_CHAIN}",
        "torchvision's ResNet-50+ put the stride on the 3x3 conv ('v1.5'); the paper's v1 on "
        "the first 1x1: the receptive field changes, the parameter count does not",
    ),
}
