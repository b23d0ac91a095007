"""Iterated-function-system fractals: the formula-driven images the synthetic backbone learns
from (FractalDB, Kataoka et al., ACCV 2020), with no photo anywhere.

A class is one IFS: 2 to 4 contractive affine maps x -> A x + b of the plane. Its images are
the chaos game's points rendered as a density, each drawn with the class's maps slightly
perturbed, then zoomed, rotated, mirrored and shaded at random: one shape family per class,
seen at many scales and contrasts. The maps are drawn as Anderson & Farrell (WACV 2022,
"Improving Fractal Pre-training") do: A = R(theta) diag(s1, d s2) R(phi) with singular values
whose weighted sum ("sigma factor") is kept in the band that gives neither dust nor a blob.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Anderson & Farrell's band for the sigma factor sum(s1 + 2 s2) of an IFS with n maps.
_SIGMA_HALF_WIDTH = 0.5


def _sigma_band(n_maps: int) -> tuple[float, float]:
    mid = (5 + n_maps) / 2
    return mid - _SIGMA_HALF_WIDTH, mid + _SIGMA_HALF_WIDTH


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def sample_system(rng: np.random.Generator, n_maps: int) -> np.ndarray:
    """n_maps affine maps as an n x 2 x 3 array [A | b], every A contractive (s1, s2 < 1)."""
    low, high = _sigma_band(n_maps)
    while True:
        s = rng.uniform(0.0, 1.0, size=(n_maps, 2))
        s.sort(axis=1)  # s[:, 1] is the larger singular value
        factor = float((s[:, 1] + 2 * s[:, 0]).sum())
        if low <= factor <= high:
            break
    maps = np.zeros((n_maps, 2, 3))
    for i in range(n_maps):
        d = np.diag([s[i, 1], s[i, 0] * rng.choice([-1.0, 1.0])])
        maps[i, :, :2] = (
            _rotation(rng.uniform(0, 2 * np.pi)) @ d @ _rotation(rng.uniform(0, 2 * np.pi))
        )
        maps[i, :, 2] = rng.uniform(-1.0, 1.0, size=2)
    return maps


def _probabilities(maps: np.ndarray) -> np.ndarray:
    """Each map chosen in proportion to the area it keeps (|det A|), as FractalDB does."""
    det = np.abs(np.linalg.det(maps[:, :, :2])) + 1e-3
    return det / det.sum()


def chaos_game(
    maps: np.ndarray, rng: np.random.Generator, chains: int = 384, steps: int = 48
) -> np.ndarray:
    """Points of the IFS's attractor: `chains` walks of `steps` random maps each, the first 12
    steps of each walk dropped (they have not reached the attractor yet). P x 2."""
    p = _probabilities(maps)
    x = rng.uniform(-1.0, 1.0, size=(chains, 2))
    choices = rng.choice(len(maps), size=(steps, chains), p=p)
    keep = []
    for t in range(steps):
        m = maps[choices[t]]
        x = np.einsum("nij,nj->ni", m[:, :, :2], x) + m[:, :, 2]
        if t >= 12:
            keep.append(x)
    return np.concatenate(keep)


def fill_rate(points: np.ndarray, side: int = 32) -> float:
    """The share of a side x side grid the points cover once fitted into it."""
    return float((render_density(points, side) > 0).mean())


def render_density(
    points: np.ndarray,
    side: int,
    *,
    zoom: float = 1.0,
    angle: float = 0.0,
    center: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The points fitted into a side x side grid (their bounding box centered, the larger
    extent filling the grid at zoom 1), rotated by `angle` and zoomed about `center` (in
    grid halves): log point counts scaled to [0, 1]."""
    lo, hi = points.min(0), points.max(0)
    mid = (lo + hi) / 2
    extent = max(float((hi - lo).max()), 1e-6)
    q = (points - mid) / extent * 2  # in [-1, 1]
    q = q @ _rotation(angle).T
    q = (q - np.asarray(center)) * zoom
    ij = np.floor((q * 0.5 * 0.92 + 0.5) * side).astype(np.int64)
    inside = (ij >= 0).all(1) & (ij < side).all(1)
    ij = ij[inside]
    counts = np.bincount(ij[:, 1] * side + ij[:, 0], minlength=side * side).astype(np.float32)
    density = np.log1p(counts)
    top = density.max()
    return (density / top if top > 0 else density).reshape(side, side)


@dataclass(frozen=True)
class FractalClass:
    """One class of the corpus: its IFS maps, and its points at the unperturbed maps."""

    maps: np.ndarray


def sample_classes(
    n_classes: int, rng: np.random.Generator, min_fill: float = 0.12
) -> list[FractalClass]:
    """n_classes IFSs of 2 to 4 maps, each covering at least min_fill of a 32 x 32 grid
    (FractalDB's filter against dust and lines)."""
    classes: list[FractalClass] = []
    while len(classes) < n_classes:
        maps = sample_system(rng, int(rng.integers(2, 5)))
        if fill_rate(chaos_game(maps, rng)) >= min_fill:
            classes.append(FractalClass(maps))
    return classes


def _shade(density: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A density as an H x W x 3 image in [0, 1]: a random background and foreground (gray in
    half the images, colored in the others), a random gamma so thin and thick strokes vary."""
    gamma = rng.uniform(0.4, 1.2)
    alpha = density**gamma
    if rng.random() < 0.5:
        back = np.full(3, rng.uniform(0.0, 1.0))
        fore = np.full(3, rng.uniform(0.0, 1.0))
    else:
        back, fore = rng.uniform(0.0, 1.0, size=3), rng.uniform(0.0, 1.0, size=3)
    if np.abs(fore - back).max() < 0.35:  # keep the shape visible
        fore = 1.0 - back
    return back + alpha[..., None] * (fore - back)


def _upscale(image: np.ndarray, side: int) -> np.ndarray:
    """An H x W x 3 float image in [0, 1] resized bilinearly to side x side."""
    from PIL import Image

    channels = [
        np.asarray(Image.fromarray(image[..., c].astype(np.float32)).resize((side, side), 2))
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0)


def render_instance(
    fractal: FractalClass,
    rng: np.random.Generator,
    side: int,
    jitter: float = 0.1,
    low_resolution: float = 0.0,
) -> np.ndarray:
    """One image of a class, side x side x 3 uint8: the maps perturbed by up to `jitter` of
    their values (FractalDB's intra-class variation), rendered at a random zoom (1 to 2.5, so
    some images show a detail as texture), rotation, mirror and shading; with probability
    `low_resolution` drawn at a quarter to half the side and upscaled (blurred, as small
    photos and scanned digits are)."""
    drawn = side
    if rng.random() < low_resolution:
        drawn = int(rng.integers(max(side // 4, 4), side // 2 + 1))
    maps = fractal.maps * (1 + rng.uniform(-jitter, jitter, size=fractal.maps.shape))
    points = chaos_game(maps, rng)
    if rng.random() < 0.5:
        points = points * np.array([-1.0, 1.0])
    zoom = float(np.exp(rng.uniform(0.0, np.log(2.5))))
    center = tuple(rng.uniform(-0.5, 0.5, size=2) * (1 - 1 / zoom)) if zoom > 1 else (0.0, 0.0)
    density = render_density(
        points, drawn, zoom=zoom, angle=float(rng.uniform(0, 2 * np.pi)), center=center
    )
    image = _shade(density, rng)
    if drawn != side:
        image = _upscale(image, side)
    return np.rint(image * 255).astype(np.uint8)
