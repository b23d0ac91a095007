"""How numbers are written for students: volumes in the lecture's H x W x C, compact counts."""

from __future__ import annotations


def hwc(height: int, width: int, channels: int) -> str:
    """'55x55x96'."""
    return f"{height}x{width}x{channels}"


def volume(shape: tuple[int, ...] | list[int]) -> str:
    """A PyTorch C x H x W shape in the lecture's H x W x C: '55x55x96' for (96, 55, 55);
    '4096' for (4096,)."""
    if len(shape) == 3:
        c, h, w = shape
        return hwc(h, w, c)
    return "x".join(str(s) for s in shape)


def compact(n: float) -> str:
    """'15.47 G' for 15,470,264,320, '1.50 G', '61.1 M'; exact with commas below a million."""
    for scale, unit in ((1e9, "G"), (1e6, "M")):
        if abs(n) >= scale:
            return f"{n / scale:,.2f} {unit}"
    return f"{int(n):,}"


def megabytes(n_bytes: float) -> str:
    """'61.0 MB', '9.4 kB'."""
    return f"{n_bytes / 1e6:,.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:,.1f} kB"


def duration(seconds: float | None) -> str:
    """'0.4 s', '3 s', '42 s', '3 min 05 s', '1 h 02 min': to a tenth of a second under 10 s
    (a job that took 0.4 s did not take "0 s"), else to the second; 'unknown' for None."""
    if seconds is None:
        return "unknown"
    if 0 < seconds < 9.95:
        return f"{seconds:.1f}".removesuffix(".0") + " s"
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def counted(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 image', '0 images', '1,797 images'; `nouns` where the plural is not noun + 's'
    ('1 class', '2 classes')."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"
