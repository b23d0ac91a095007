"""Random rotations and affine maps on a whole batch at once (one grid_sample call, a different
draw per image), drawn from a seeded generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def affine_batch(
    images: torch.Tensor,
    degrees: torch.Tensor,
    *,
    scale: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rotate each image of N x C x H x W by degrees[i] (counter-clockwise) about its center,
    scale it by scale[i] and move it by shift[i] (x, y as fractions of the half side); the
    uncovered border is black (0), bilinear sampling."""
    n = images.shape[0]
    theta = torch.deg2rad(degrees.to(images.dtype))
    s = torch.ones(n, dtype=images.dtype) if scale is None else scale.to(images.dtype)
    t = torch.zeros(n, 2, dtype=images.dtype) if shift is None else shift.to(images.dtype)
    cos, sin = torch.cos(theta) / s, torch.sin(theta) / s
    # affine_grid maps output to input coordinates: the inverse rotation, y pointing down.
    matrix = torch.stack(
        [torch.stack([cos, -sin, -t[:, 0]], 1), torch.stack([sin, cos, -t[:, 1]], 1)], 1
    )
    grid = F.affine_grid(matrix, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """n draws uniform in [low, high]."""
    return low + (high - low) * torch.rand(n, generator=generator)


def random_rotation(max_degrees: float):
    """A batch transform: each image rotated by a uniform angle in [-max, +max] degrees."""

    def rotate(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        angles = uniform(images.shape[0], -max_degrees, max_degrees, generator)
        return affine_batch(images, angles)

    return rotate


def random_affine(degrees: float, translate: float, scale: tuple[float, float]):
    """A batch transform: rotation in +-degrees, shift up to `translate` of the side, scale."""

    def transform(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = images.shape[0]
        angles = uniform(n, -degrees, degrees, generator)
        factors = uniform(n, scale[0], scale[1], generator)
        # affine_grid's coordinates span [-1, 1]: a shift of `translate` sides is 2 * translate.
        shifts = uniform(2 * n, -2 * translate, 2 * translate, generator).view(n, 2)
        return affine_batch(images, angles, scale=factors, shift=shifts)

    return transform
