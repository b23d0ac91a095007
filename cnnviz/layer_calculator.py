"""The layer calculator: one conv or pool layer's output volume, parameters and MACs, worked with
its numbers; and a 1x1 convolution that reduces the depth first."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cnnviz import layer_limits
from cnnviz.arithmetic import (
    covered,
    worked_conv_macs,
    worked_conv_params,
    worked_output_length,
)
from cnnviz.layer_fit import (
    LayerSpec,
    Suggestion,
    layer_problems,
    out_of_range,
    spec_output,
    suggest_fits,
)
from cnnviz.notation import hwc


@dataclass(frozen=True)
class LayerArithmetic:
    """Everything the calculator shows for one layer: numbers, worked formulas, problems."""

    spec: LayerSpec
    output: tuple[int, int, int] | None  # H, W, C as PyTorch gives it; None where it refuses
    params: int
    macs: int
    worked_height: str
    worked_width: str
    worked_params: str
    worked_macs: str
    unseen_rows: tuple[int, ...]  # input rows no kernel tap ever touches
    unseen_columns: tuple[int, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]

    @property
    def fits(self) -> bool:
        return not self.problems

    def worked_rows(self) -> list[tuple[str, str]]:
        """(quantity, formula with the numbers) for output height, width, params, MACs."""
        return [
            ("Output height", self.worked_height),
            ("Output width", self.worked_width),
            ("Parameters", self.worked_params),
            ("MACs", self.worked_macs),
        ]

    @property
    def volume(self) -> str:
        """'55x55x96' (H x W x C), or a dash where PyTorch refuses the layer."""
        if self.output is None:
            return "—"
        return hwc(*self.output)

    @property
    def params_text(self) -> str:
        """'34,944', or a dash where PyTorch refuses the layer (not a misleading 0)."""
        return "—" if self.output is None else f"{self.params:,}"

    @property
    def macs_text(self) -> str:
        return "—" if self.output is None else f"{self.macs:,}"


def _uncovered(n: int, spec: LayerSpec) -> tuple[int, ...]:
    seen = covered(n, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
    return tuple(i for i in range(n) if i not in seen)


def _worked_axis(spec: LayerSpec, n: int) -> str:
    ceil = spec.ceil_mode and not spec.is_conv  # a conv in ceil mode is refused, not worked
    return worked_output_length(n, spec.kernel, spec.stride, spec.padding, spec.dilation, ceil)


def layer_arithmetic(spec: LayerSpec) -> LayerArithmetic:
    """Output volume, parameters and MACs of one layer, worked with its numbers; its problems."""
    # OutOfBounds above cnnviz.layer_limits: the work grows with the sizes.
    layer_limits.check_layer(spec)
    problems = tuple(layer_problems(spec))
    suggestions = tuple(suggest_fits(spec))
    if out_of_range(spec):
        return LayerArithmetic(
            spec, None, 0, 0, "—", "—", "—", "—", (), (), problems, (), suggestions
        )
    output = spec_output(spec)
    heights = (_worked_axis(spec, spec.height), _worked_axis(spec, spec.width))
    unseen = (_uncovered(spec.height, spec), _uncovered(spec.width, spec))
    notes: list[str] = []
    skipped = [
        f"{len(lost)} of {n} {what if n == 1 else what + 's'}"
        for lost, n, what in ((unseen[0], spec.height, "row"), (unseen[1], spec.width, "column"))
        if lost
    ]
    if spec.stride > spec.effective_kernel and output is not None and skipped:
        notes.append(
            f"The stride ({spec.stride}) is larger than the kernel ({spec.effective_kernel}): "
            f"the windows skip input between them ({' and '.join(skipped)} never seen). "
            "ResNet's stride-2 1x1 shortcut does this on purpose."
        )
    if spec.is_conv:
        if output is None or spec.channels % spec.groups or spec.filters % spec.groups:
            params = macs = 0
            worked_params = worked_macs = "— (PyTorch refuses this layer)"
        else:
            h, w, f = output
            per_filter = spec.kernel * spec.kernel * (spec.channels // spec.groups)
            params = per_filter * f + f
            macs = h * w * f * per_filter
            worked_params = worked_conv_params(
                (spec.kernel, spec.kernel), spec.channels, f, spec.groups
            )
            worked_macs = worked_conv_macs((h, w), f, spec.kernel, spec.channels, spec.groups)
            if spec.groups > 1:
                notes.append(
                    f"Groups {spec.groups}: each filter sees only {spec.channels // spec.groups} "
                    f"of the {spec.channels} input channels (AlexNet's two-GPU split was groups 2)."
                )
    else:
        params = macs = 0
        worked_params = "0: pooling has no parameters"
        worked_macs = "0: no weights to multiply"
        if output is not None:
            h, w, c = output
            window = spec.kernel * spec.kernel
            verb = "compares" if spec.layer_type == "max pool" else "adds"
            values = "1 value" if window == 1 else f"{window} values"
            outputs = (
                f"its single output ({h}*{w}*{c} = 1)"
                if h * w * c == 1
                else f"each of the {h}*{w}*{c} = {h * w * c:,} outputs"
            )
            worked_macs += (
                f" (it still {verb} {spec.kernel}*{spec.kernel} = {values} for {outputs})"
            )
    return LayerArithmetic(
        spec=spec,
        output=output,
        params=params,
        macs=macs,
        worked_height=heights[0],
        worked_width=heights[1],
        worked_params=worked_params,
        worked_macs=worked_macs,
        unseen_rows=unseen[0],
        unseen_columns=unseen[1],
        problems=problems,
        notes=tuple(notes),
        suggestions=suggestions,
    )


def compared(new: int, old: int, *, against: bool | str = True) -> str:
    """How `new` compares with `old`, in words: '71% fewer than 1,234', '13% more than 1,234',
    '9.7x as many as 1,234' ('71% fewer' without `against`, '71% fewer than naive' with a
    name). Percentages only where they read well: a 97,260% increase is '973.6x as many', a
    negative saving 'more', never '-13% fewer'."""
    if old <= 0:
        return "nothing to compare with"
    ratio = new / old
    if new <= 0:
        words, link = "none", "of"
    elif abs(ratio - 1) < 0.005:
        words, link = "about as many", "as"
    elif ratio < 0.01:
        words, link = f"{old / max(new, 1):,.0f}x fewer", "than"
    elif ratio < 1:
        words, link = f"{1 - ratio:.0%} fewer", "than"
    elif ratio < 2:
        words, link = f"{ratio - 1:.0%} more", "than"
    else:
        words, link = f"{ratio:,.1f}x as many", "as"
    if isinstance(against, str):
        return f"{words} {link} {against}"
    return f"{words} {link} {old:,}" if against else words


def direction(new: int, old: int) -> str:
    """st.metric's delta_arrow for `new` against `old`: 'down', 'up' or 'off'."""
    return "down" if new < old else "up" if new > old else "off"


# --- 1x1 convolutions: reduce the depth before an expensive k x k convolution.


@dataclass(frozen=True)
class DepthReduction:
    """A k x k conv straight on the input vs a 1x1 'bottleneck' conv first (same output)."""

    direct: LayerArithmetic  # k x k conv on the full input depth
    reduce: LayerArithmetic  # 1x1 conv down to the reduced depth
    after: LayerArithmetic  # the same k x k conv on the reduced depth

    @property
    def problems(self) -> tuple[str, ...]:
        return self.direct.problems + self.reduce.problems + self.after.problems

    @property
    def bottleneck_params(self) -> int:
        return self.reduce.params + self.after.params

    @property
    def bottleneck_macs(self) -> int:
        return self.reduce.macs + self.after.macs

    def worked_rows(self) -> list[tuple[str, str]]:
        """(quantity, formula with the numbers), the direct conv first."""
        k = self.direct.spec.kernel
        return [
            (f"{k}x{k} conv alone, MACs", self.direct.worked_macs),
            ("1x1 reduce, MACs", self.reduce.worked_macs),
            (f"then {k}x{k} conv, MACs", self.after.worked_macs),
            (
                "1x1 reduce + conv, MACs",
                f"{self.reduce.macs:,} + {self.after.macs:,} = {self.bottleneck_macs:,}",
            ),
            (f"{k}x{k} conv alone, parameters", self.direct.worked_params),
            ("1x1 reduce, parameters", self.reduce.worked_params),
            (f"then {k}x{k} conv, parameters", self.after.worked_params),
            (
                "1x1 reduce + conv, parameters",
                f"{self.reduce.params:,} + {self.after.params:,} = {self.bottleneck_params:,}",
            ),
        ]


def depth_reduction(
    height: int, width: int, depth: int, reduced: int, kernel: int, filters: int
) -> DepthReduction:
    """Costs of a 'same' k x k conv with and without a 1x1 conv to `reduced` channels first."""
    same = LayerSpec(
        height=height, width=width, kernel=kernel, stride=1, padding=kernel // 2, filters=filters
    )
    return DepthReduction(
        direct=layer_arithmetic(replace(same, channels=depth)),
        reduce=layer_arithmetic(
            replace(same, channels=depth, kernel=1, padding=0, filters=reduced)
        ),
        after=layer_arithmetic(replace(same, channels=reduced)),
    )
