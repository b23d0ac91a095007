"""Conv and pool arithmetic: output sizes, parameters and MACs, with worked formulas."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from cnnviz.errors import InputTooSmall
from cnnviz.notation import hwc

__all__ = ["InputTooSmall"]


def pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    """(v, v) for an int, the tuple itself for a pair."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def output_length(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length along one axis as PyTorch computes it (0 where PyTorch refuses):
    floor((n + 2p - d(k-1) - 1)/s) + 1, or ceil(...) + 1 in ceil mode."""
    span = n + 2 * padding - dilation * (kernel - 1) - 1
    # Python's // floors negative spans too, like PyTorch's div_rtn: in ceil mode a window up to
    # s-1 pixels wider than the padded input still gives one output.
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    # PyTorch: with ceil_mode the last window must start inside the input or left padding.
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return max(out, 0)


def geometry(module: nn.Module) -> dict[str, tuple[int, int]] | None:
    """Kernel, stride, padding, dilation of a conv or pool layer (None for other layers)."""
    if not (hasattr(module, "kernel_size") and hasattr(module, "stride")):
        return None
    padding = module.padding
    if isinstance(padding, str):
        raise ValueError(f"string padding {padding!r} is not supported")
    return {
        "kernel": pair(module.kernel_size),
        "stride": pair(module.stride if module.stride is not None else module.kernel_size),
        "padding": pair(padding),
        "dilation": pair(getattr(module, "dilation", 1)),
    }


def feature_size(
    layers: Iterable[tuple[str, nn.Module]], input_size: tuple[int, int, int]
) -> tuple[int, int, int]:
    """C, H, W after a chain of layers (named), without running them; raises InputTooSmall."""
    c, h, w = input_size
    for name, m in layers:
        g = geometry(m)
        if g is not None:
            ceil = bool(getattr(m, "ceil_mode", False))
            dims = [
                output_length(n, k, s, p, d, ceil)
                for n, k, s, p, d in zip(
                    (h, w), g["kernel"], g["stride"], g["padding"], g["dilation"], strict=True
                )
            ]
            if min(dims) < 1:
                raise InputTooSmall(
                    f"layer '{name}' ({type(m).__name__}, kernel {g['kernel'][0]}, "
                    f"stride {g['stride'][0]}, padding {g['padding'][0]}) cannot fit "
                    f"its {hwc(h, w, c)} input"
                )
            h, w = dims
        c = getattr(m, "out_channels", c)
    return c, h, w


def kernel_text(kernel: int, dilation: int = 1) -> str:
    """The (effective) kernel as it enters a formula: '11', or '(2*(3 - 1) + 1)' dilated."""
    return str(kernel) if dilation == 1 else f"({dilation}*({kernel} - 1) + 1)"


def worked_output_length(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> str:
    """The output-size formula with the numbers, e.g. '(227 - 11 + 2*0)/4 + 1 = 55'.

    What is written evaluates to what is stated: '= 54.25, floored to 54'; in ceil mode
    '= 55.50, ceil mode rounds up to 56', and where PyTorch drops a last window that would start
    past the input and its left padding, the text says so and ends on PyTorch's value.
    """
    effective = dilation * (kernel - 1) + 1
    span = n - effective + 2 * padding
    exact = span / stride + 1
    out = output_length(n, kernel, stride, padding, dilation, ceil_mode)
    text = f"({n} - {kernel_text(kernel, dilation)} + 2*{padding})/{stride} + 1"
    if out < 1:
        return f"{text} = {exact:.2f}: no room for the kernel, PyTorch raises an error"
    if span % stride == 0:
        return f"{text} = {out}"
    if not ceil_mode:
        return f"{text} = {exact:.2f}, floored to {out}"
    up = span // stride + 2
    worked = f"{text} = {exact:.2f}, ceil mode rounds up to {up}"
    if out == up:
        return worked
    return (
        f"{worked}, but that last window would start at ({up} - 1)*{stride} = {(up - 1) * stride},"
        f" past the input and its left padding ({n} + {padding} = {n + padding}): PyTorch drops"
        f" it, so {out}"
    )


def worked_conv_params(
    kernel: tuple[int, int], in_channels: int, filters: int, groups: int = 1, bias: bool = True
) -> str:
    """The parameter count with the numbers, e.g. '11*11*3*96 + 96 = 34,944'."""
    kh, kw = kernel
    per_filter_in = in_channels // groups
    weights = kh * kw * per_filter_in * filters
    c_text = str(in_channels) if groups == 1 else f"({in_channels}/{groups})"
    text = f"{kh}*{kw}*{c_text}*{filters}"
    total = weights + (filters if bias else 0)
    return f"{text} + {filters} = {total:,}" if bias else f"{text} = {total:,}"


def worked_conv_macs(
    output_hw: tuple[int, int], filters: int, kernel: int, in_channels: int, groups: int = 1
) -> str:
    """MACs with the numbers: '55*55*96 * 11*11*3 = 105,415,200' (outputs x work per output)."""
    h, w = output_hw
    c_text = str(in_channels) if groups == 1 else f"({in_channels}/{groups})"
    macs = h * w * filters * kernel * kernel * (in_channels // groups)
    return f"{h}*{w}*{filters} * {kernel}*{kernel}*{c_text} = {macs:,}"


def covered(
    n: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> set[int]:
    """Input positions (0..n-1, padding excluded) that some kernel tap touches."""
    outs = output_length(n, kernel, stride, padding, dilation, ceil_mode)
    taps = {i * stride + j * dilation - padding for i in range(outs) for j in range(kernel)}
    return {t for t in taps if 0 <= t < n}
