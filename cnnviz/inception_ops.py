"""Inception module ops the slide's way: one closed-form term per convolution, and the erratum.

Each term is H*W*filters*k*k*input depth (weight multiplications, the lecture's "ops"); the
engine's real modules (`inception_naive`, `inception_bottleneck` in the registry) must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cnnviz import registry
from cnnviz.notation import hwc

if TYPE_CHECKING:
    from cnnviz.analysis import Analysis

SLIDE_NAIVE_TOTAL = "854M"  # what the slide prints; it matches its terms
SLIDE_BOTTLENECK_TOTAL = "358M"  # what the slide prints; its own terms add up to 271M


@dataclass(frozen=True)
class OpsTerm:
    """One convolution of a module: '[3x3 conv, 192]  28*28*192*3*3*256 = 346,816,512'."""

    role: str  # 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj
    layer: str  # the engine's layer name, e.g. branch3x3.reduce.conv
    height: int
    width: int
    filters: int
    kernel: int
    depth: int  # input depth of this convolution

    @property
    def label(self) -> str:
        return f"[{self.kernel}x{self.kernel} conv, {self.filters}]"

    @property
    def macs(self) -> int:
        return self.height * self.width * self.filters * self.kernel * self.kernel * self.depth

    @property
    def formula(self) -> str:
        """The slide's product with the numbers, e.g. '28*28*128*1*1*256 = 25,690,112'."""
        k = self.kernel
        return f"{self.height}*{self.width}*{self.filters}*{k}*{k}*{self.depth} = {self.macs:,}"


@dataclass(frozen=True)
class InceptionOps:
    """A module's terms (in the slide's order), input H x W x C and output depth."""

    module: str  # registry name: inception_naive or inception_bottleneck
    input: tuple[int, int, int]  # C, H, W
    terms: tuple[OpsTerm, ...]
    output_depth: int

    @property
    def total_macs(self) -> int:
        return sum(term.macs for term in self.terms)

    @property
    def output_volume(self) -> str:
        _, h, w = self.input
        return hwc(h, w, self.output_depth)

    def term(self, role: str) -> OpsTerm:
        return next(t for t in self.terms if t.role == role)


def lecture_widths(module: str) -> dict[str, int]:
    """The slide's branch widths: the registered builder's defaults."""
    return dict(registry.get(module).options)


def naive_ops(
    input_size: tuple[int, int, int] = (256, 28, 28),
    *,
    c1x1: int = 128,
    c3x3: int = 192,
    c5x5: int = 96,
) -> InceptionOps:
    """1x1, 3x3, 5x5 convolutions on the full input depth, plus a 3x3 max pool that keeps it."""
    c, h, w = input_size
    terms = (
        OpsTerm("1x1", "branch1x1.conv", h, w, c1x1, 1, c),
        OpsTerm("3x3", "branch3x3.conv", h, w, c3x3, 3, c),
        OpsTerm("5x5", "branch5x5.conv", h, w, c5x5, 5, c),
    )
    return InceptionOps("inception_naive", input_size, terms, c1x1 + c3x3 + c5x5 + c)


def bottleneck_ops(
    input_size: tuple[int, int, int] = (256, 28, 28),
    *,
    c1x1: int = 128,
    c3x3_reduce: int = 64,
    c3x3: int = 192,
    c5x5_reduce: int = 64,
    c5x5: int = 96,
    pool_proj: int = 64,
) -> InceptionOps:
    """The same branches with 1x1 'bottleneck' convolutions before the 3x3, 5x5, after the pool."""
    c, h, w = input_size
    terms = (
        OpsTerm("3x3 reduce", "branch3x3.reduce.conv", h, w, c3x3_reduce, 1, c),
        OpsTerm("5x5 reduce", "branch5x5.reduce.conv", h, w, c5x5_reduce, 1, c),
        OpsTerm("1x1", "branch1x1.conv", h, w, c1x1, 1, c),
        OpsTerm("3x3", "branch3x3.conv.conv", h, w, c3x3, 3, c3x3_reduce),
        OpsTerm("5x5", "branch5x5.conv.conv", h, w, c5x5, 5, c5x5_reduce),
        OpsTerm("pool proj", "branch_pool.proj.conv", h, w, pool_proj, 1, c),
    )
    return InceptionOps("inception_bottleneck", input_size, terms, c1x1 + c3x3 + c5x5 + pool_proj)


@dataclass(frozen=True)
class EngineCheck:
    """Closed-form terms beside the real module's per-layer MACs."""

    rows: tuple[tuple[OpsTerm, int], ...]  # (term, the engine's MACs for term.layer)
    engine_total: int
    engine_output_depth: int

    def agrees(self, ops: InceptionOps) -> bool:
        return (
            all(term.macs == macs for term, macs in self.rows)
            and self.engine_total == ops.total_macs
            and self.engine_output_depth == ops.output_depth
        )


def engine_check(ops: InceptionOps, analysis: Analysis) -> EngineCheck:
    """Look up each term's layer in the analyzed module (from `analyze(ops.module, ...)`)."""
    return EngineCheck(
        rows=tuple((term, analysis.layer(term.layer).macs) for term in ops.terms),
        engine_total=analysis.total_macs,
        engine_output_depth=analysis.output_shape[0],
    )


def check_rows(ops: InceptionOps, check: EngineCheck) -> list[dict[str, object]]:
    """One row per term: the slide's closed form beside the real module's layer and MACs."""
    return [
        {
            "module": ops.module,
            "term": term.label,
            "closed form": term.formula,
            "engine layer": term.layer,
            "engine MACs": macs,
            "agree": "✓" if term.macs == macs else "✗",
        }
        for term, macs in check.rows
    ]


def stacked_naive(ops: InceptionOps, modules: int = 5) -> list[InceptionOps]:
    """`modules` naive modules in a row, same widths: each takes the previous output depth."""
    widths = {t.role: t.filters for t in ops.terms}
    _, h, w = ops.input
    chain = [ops]
    while len(chain) < modules:
        depth = chain[-1].output_depth
        chain.append(
            naive_ops((depth, h, w), c1x1=widths["1x1"], c3x3=widths["3x3"], c5x5=widths["5x5"])
        )
    return chain


def stacked_bottleneck(ops: InceptionOps, modules: int = 5) -> list[InceptionOps]:
    """`modules` bottleneck modules in a row: the pool projection keeps the depth fixed."""
    widths = {t.role.replace(" ", "_"): t.filters for t in ops.terms}
    _, h, w = ops.input
    chain = [ops]
    while len(chain) < modules:
        chain.append(
            bottleneck_ops(
                (chain[-1].output_depth, h, w),
                c1x1=widths["1x1"],
                c3x3_reduce=widths["3x3_reduce"],
                c3x3=widths["3x3"],
                c5x5_reduce=widths["5x5_reduce"],
                c5x5=widths["5x5"],
                pool_proj=widths["pool_proj"],
            )
        )
    return chain


@dataclass(frozen=True)
class SlideErratum:
    """Where the slide's 'Total: 358M ops' for the bottleneck module comes from."""

    terms_total: int  # what the slide's own terms add up to
    term3x3: OpsTerm  # the 3x3 term as it should be (on the reduced depth)
    counted_twice: int  # terms_total + the 3x3 term again
    term3x3_on_c1x1: OpsTerm  # the 3x3 term with the 1x1 branch's width (128) as input depth
    on_c1x1_total: int


def slide_erratum() -> SlideErratum:
    """Recompute the slide's bottleneck total both ways it could have come about."""
    lecture = registry.get("inception_bottleneck").default_input
    ops = bottleneck_ops(lecture, **lecture_widths("inception_bottleneck"))
    term = ops.term("3x3")
    wrong_depth = replace(term, depth=ops.term("1x1").filters)
    return SlideErratum(
        terms_total=ops.total_macs,
        term3x3=term,
        counted_twice=ops.total_macs + term.macs,
        term3x3_on_c1x1=wrong_depth,
        on_c1x1_total=ops.total_macs - term.macs + wrong_depth.macs,
    )
