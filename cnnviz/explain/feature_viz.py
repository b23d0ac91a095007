"""Feature visualization (Olah, Mordvintsev and Schubert, Distill 2017, "Feature
Visualization"): the input optimized to excite one channel of a layer (or one class logit),
next to the validation images that excite it most (cnnviz.explain.reference_images).

The image is parametrized as Lucid does it: a Fourier spectrum scaled by 1/frequency (so the
optimizer is not drawn to high-frequency noise), in a decorrelated color space (the square root
of ImageNet's color covariance), squashed into [0, 1] by a sigmoid. Every step it is padded,
scaled, rotated and jittered at random ("transformation robustness"), so that only patterns
that survive small shifts grow. Adam maximizes the mean activation of the channel (a forward
hook on the layer) or the class logit (layer "logits").

The model's own preprocessing turns the image into the network's input. It is resize, gray
and per-channel normalization for every model Explain shows, which is affine on a uniform
image: probed once on a black and a white image, it becomes `black + image * (white - black)`,
differentiable. The activation reported is measured on the final image as 8-bit pixels (what
the PNG holds), by a plain forward pass.

Seeded with a local torch.Generator: the same seed, the same image; the global RNG is not
touched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.augment import limits as augment_limits
from cnnviz.errors import DoesNotFit, OutOfBounds, UnknownLayer
from cnnviz.explain import limits as explain_limits
from cnnviz.explain.feature_maps import module
from cnnviz.explain.models import Explained
from cnnviz.jobs.devices import cpu_threads

LOGITS = "logits"  # the layer name for a class logit (the network's output)

# Lucid's square root of ImageNet's color correlation (its SVD), columns scaled to norm <= 1.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_CORRELATION = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()
SPECTRUM_SD = 0.01  # Lucid's initial spectrum: small noise, a gray start
DECAY_POWER = 1.0  # amplitude ~ 1 / frequency: natural images' spectrum
LEARNING_RATE = 0.05  # Lucid's Adam rate
SMALL_WORK = 8 * 32 * 32  # pixels per step up to which one CPU thread is faster (LeNet-5)


@dataclass(frozen=True)
class Settings:
    """How to optimize: steps of Adam, the image side in pixels, the seed, and the strength of
    the random transforms (pad and jitter in pixels, scale range, rotation in degrees).
    None for pad/jitter: a sixteenth of the side (Lucid's 8 to 12 px at 224)."""

    steps: int = 256
    side: int | None = None  # None: the model's own input side
    seed: int = 0
    pad: int | None = None
    jitter: int | None = None
    scale: float = 0.05  # random scale in [1 - scale, 1 + scale]
    rotate: float = 10.0  # random rotation in [-rotate, rotate] degrees
    decorrelate: bool = True
    fourier: bool = True

    def checked(self, model: Explained) -> Settings:
        """These settings within cnnviz.explain.limits, the side resolved for `model`
        (OutOfBounds or DoesNotFit otherwise)."""
        steps = explain_limits.FEATURE_VIZ_STEPS.check(self.steps)
        seed = augment_limits.SEED.check(self.seed)
        side = (
            model.image_size
            if self.side is None
            else explain_limits.FEATURE_VIZ_SIDE.check(self.side)
        )
        if model.fixed_size and side != model.image_size:
            raise DoesNotFit(
                f"{model.title} takes {model.image_size}x{model.image_size} images only, "
                f"not {side}x{side}.",
                f"Use a side of {model.image_size}.",
            )
        border = max(1, side // 16)
        return Settings(
            steps=steps,
            side=side,
            seed=seed,
            pad=border if self.pad is None else self.pad,
            jitter=border if self.jitter is None else self.jitter,
            scale=self.scale,
            rotate=self.rotate,
            decorrelate=self.decorrelate,
            fourier=self.fourier,
        )


@dataclass(frozen=True)
class Visualization:
    """The optimized images of one layer's channels (or classes, layer "logits")."""

    model: str  # the Explained key
    layer: str
    channels: list[int]
    images: np.ndarray  # N x side x side x 3 uint8, one per channel
    activations: list[float]  # each image's own channel, measured on its 8-bit pixels
    objective: list[list[float]]  # per channel, the objective during the optimization
    settings: Settings
    seconds: float


@dataclass(frozen=True)
class TopImages:
    """Per channel, the images (indices into the set given) that activate it most."""

    layer: str
    channels: list[int]
    indices: list[list[int]]  # per channel, best first
    activations: list[list[float]]  # per channel, best first
    maximum: list[float]  # per channel, the largest activation over the whole set


# --- the parametrized image -------------------------------------------------------------------
def _frequencies(side: int) -> torch.Tensor:
    """|f| of each entry of rfft2's output for a side x side image."""
    fy = torch.fft.fftfreq(side)[:, None]
    fx = torch.fft.rfftfreq(side)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FourierImage(nn.Module):
    """N RGB images, side x side, as Lucid parametrizes them: a scaled Fourier spectrum in a
    decorrelated color space (or plain pixels: fourier/decorrelate False), sigmoid to [0, 1];
    gray: their mean, for a network that sees gray images."""

    def __init__(
        self,
        n: int,
        side: int,
        generator: torch.Generator,
        *,
        fourier: bool = True,
        decorrelate: bool = True,
        gray: bool = False,
    ) -> None:
        super().__init__()
        self.side, self.fourier, self.decorrelate, self.gray = side, fourier, decorrelate, gray
        if fourier:
            freqs = _frequencies(side)
            scale = 1.0 / torch.clamp(freqs, min=1.0 / side) ** DECAY_POWER
            self.register_buffer("scale", scale)
            shape = (n, 3, *freqs.shape, 2)  # real and imaginary parts
        else:
            shape = (n, 3, side, side)
        self.spectrum = nn.Parameter(SPECTRUM_SD * torch.randn(shape, generator=generator))

    def forward(self) -> torch.Tensor:
        if self.fourier:
            spectrum = torch.view_as_complex(self.spectrum) * self.scale
            t = torch.fft.irfft2(spectrum, s=(self.side, self.side), norm="ortho") / 4.0
        else:
            t = self.spectrum
        if self.decorrelate:  # from decorrelated coordinates to RGB
            t = torch.einsum("nchw,dc->ndhw", t, COLOR_CORRELATION)
        rgb = torch.sigmoid(t)
        # A gray network sees the mean of R, G and B: show it that way (R = G = B).
        return rgb.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1) if self.gray else rgb


# --- transformation robustness -----------------------------------------------------------------
def transform(images: torch.Tensor, s: Settings, generator: torch.Generator) -> torch.Tensor:
    """Pad, then scale and rotate at random (one affine resampling), then jitter by a random
    crop back to the side: Lucid's standard transforms, sized to the image."""
    n, _, side, _ = images.shape
    pad, jitter = int(s.pad or 0), int(s.jitter or 0)
    x = F.pad(images, [pad] * 4, mode="constant", value=0.5) if pad else images
    u = torch.rand(n, 2, generator=generator) * 2 - 1
    scale = 1 + s.scale * u[:, 0]
    angle = math.radians(s.rotate) * u[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    room = x.shape[-1] - side  # 2 * pad: where the crop may start
    shift = min(room, 2 * jitter)
    dy, dx = torch.randint(0, shift + 1, (2,), generator=generator).tolist() if shift else (0, 0)
    start = (room - shift) // 2
    return x[..., start + dy : start + dy + side, start + dx : start + dx + side]


# --- the model's input from an RGB image in [0, 1] ----------------------------------------------
def input_map(model: Explained) -> Callable[[torch.Tensor], torch.Tensor]:
    """A differentiable stand-in for model.preprocess on float RGB in [0, 1]: the per-channel
    affine map probed on a black and a white image (gray models average R, G, B first)."""
    side = model.image_size
    black = model.preprocess(torch.zeros(3, side, side, dtype=torch.uint8))[0]
    white = model.preprocess(torch.full((3, side, side), 255, dtype=torch.uint8))[0]
    offset = black.mean(dim=(1, 2)).view(1, -1, 1, 1)
    gain = (white - black).mean(dim=(1, 2)).view(1, -1, 1, 1)

    def to_input(rgb: torch.Tensor) -> torch.Tensor:
        x = rgb.mean(dim=1, keepdim=True) if offset.shape[1] == 1 else rgb
        return offset + gain * x

    return to_input


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W floats in [0, 1] -> N x H x W x 3 uint8."""
    t = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8)
    return t.permute(0, 2, 3, 1).contiguous().numpy()


# --- objectives ---------------------------------------------------------------------------------
def check_target(layer: str, channels: Sequence[int], out: torch.Tensor) -> None:
    """UnknownLayer / OutOfBounds unless every channel exists in `layer`'s output `out`."""
    width = out.shape[1]
    what = "class" if layer == LOGITS else f"channel of {layer}"
    for c in channels:
        if not 0 <= int(c) < width:
            kind = "classes" if layer == LOGITS else "channels"
            raise OutOfBounds(
                f"There is no {what} {c}: {layer} has {width} {kind}.",
                f"Pick from 0 to {width - 1}.",
            )


def _capture(net: nn.Module, layer: str) -> tuple[list[torch.Tensor], Callable[[], None]]:
    """A forward hook that keeps `layer`'s output (the network's output for "logits")."""
    captured: list[torch.Tensor] = []
    if layer == LOGITS:
        return captured, lambda: None
    handle = module(net, layer).register_forward_hook(lambda _m, _i, out: captured.append(out))
    return captured, handle.remove


def _channel_values(out: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Row i's activation of channels[i]: the mean over the map for a C x H x W output."""
    picked = out[torch.arange(out.shape[0]), channels]
    return picked.flatten(1).mean(dim=1) if picked.ndim > 1 else picked


def layer_output(net: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The output of `layer` (or the logits) for the batch x; UnknownLayer when it has no
    channels (not N x C or N x C x H x W)."""
    captured, remove = _capture(net, layer)
    try:
        logits = net(x)
    finally:
        remove()
    out = logits if layer == LOGITS else (captured[-1] if captured else None)
    if not isinstance(out, torch.Tensor) or out.ndim not in (2, 4):
        raise UnknownLayer(f"Layer {layer!r} has no channels to visualize.")
    return out


# --- the optimization ---------------------------------------------------------------------------
def visualize(
    model: Explained,
    layer: str,
    channels: Sequence[int],
    settings: Settings | None = None,
    *,
    report: Callable[..., object] | None = None,
) -> Visualization:
    """The images that maximize each channel's mean activation in `layer` (or each class's
    logit, layer "logits"), optimized together as one batch. `report(step=, total=, message=)`
    is called every step; a job's stop lands there (cnnviz.jobs.Stopped)."""
    channels = [int(c) for c in channels]
    if not channels:
        raise OutOfBounds("Pick at least one channel to visualize.")
    explain_limits.FEATURE_VIZ_CHANNELS.check(len(channels))
    s = (settings or Settings()).checked(model)
    generator = torch.Generator().manual_seed(s.seed)
    image = FourierImage(len(channels), s.side, generator, fourier=s.fourier,
                         decorrelate=s.decorrelate, gray=model.channels == 1)  # fmt: skip
    to_input = input_map(model)
    optimizer = torch.optim.Adam(image.parameters(), lr=LEARNING_RATE)
    targets = torch.tensor(channels)
    history: list[list[float]] = [[] for _ in channels]
    what = "class" if layer == LOGITS else f"{layer} channel"
    start = time.perf_counter()
    # Small work runs on one thread: on a busy 2-core server two wait on each other at every
    # tiny op (cnnviz.jobs.devices.cpu_threads); a large image keeps torch's count.
    threads = 1 if s.side * s.side * len(channels) <= SMALL_WORK else torch.get_num_threads()
    with cpu_threads(threads), model.borrow() as net:
        net.eval()  # as found afterwards (Explained.borrow)
        with torch.no_grad():
            out = layer_output(net, layer, to_input(image()))
        check_target(layer, channels, out)
        for step in range(s.steps):
            if report is not None:
                report(step=step, total=s.steps, message=f"Optimizing {what} {channels}")
            optimizer.zero_grad()
            x = to_input(transform(image(), s, generator))
            values = _channel_values(layer_output(net, layer, x), targets)
            (-values.sum()).backward()
            optimizer.step()
            for i, v in enumerate(values.tolist()):
                history[i].append(v)
        with torch.no_grad():
            pictures = to_uint8(image())
            measured = activations_of(net, model, layer, pictures)
    if report is not None:
        report(step=s.steps, total=s.steps, message="Done")
    own = [float(measured[i, c]) for i, c in enumerate(channels)]
    return Visualization(
        model=model.key,
        layer=layer,
        channels=channels,
        images=pictures,
        activations=own,
        objective=history,
        settings=s,
        seconds=time.perf_counter() - start,
    )


def activations_of(
    net: nn.Module, model: Explained, layer: str, pictures: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """Every channel's activation (mean over the map) for each N x H x W x 3 uint8 picture:
    N x C. `net` is the borrowed network. A picture is the network's input as it is (its
    8-bit pixels normalized as model.preprocess does, not resized or cropped again), except
    for a model of one input size (LeNet-5), to which model.preprocess resizes it."""
    t = torch.as_tensor(np.asarray(pictures)).permute(0, 3, 1, 2).contiguous()
    if model.fixed_size and t.shape[-1] != model.image_size:
        x = model.preprocess(t[0]) if len(t) == 1 else model._preprocess(t).float()
    else:
        x = input_map(model)(t.float() / 255)
    with torch.no_grad():
        out = layer_output(net, layer, x)
    return out.flatten(2).mean(dim=2) if out.ndim == 4 else out


def top_images(
    model: Explained,
    layer: str,
    channels: Sequence[int],
    pictures: np.ndarray | torch.Tensor,
    k: int = 8,
    *,
    batch: int = 64,
) -> TopImages:
    """The k pictures (N x H x W x 3 uint8, or N x 3 x H x W) that activate each channel most,
    measured by a plain forward pass of model.preprocess(picture)."""
    k = explain_limits.FEATURE_VIZ_TOP.check(k)
    t = torch.as_tensor(np.asarray(pictures))
    if t.ndim != 4 or t.dtype != torch.uint8:
        raise DoesNotFit("The validation images must be N x H x W x 3 (or N x 3 x H x W) uint8.")
    if t.shape[1] == 3 and t.shape[-1] != 3:
        t = t.permute(0, 2, 3, 1)
    channels = [int(c) for c in channels]
    rows = []
    with model.borrow() as net:
        net.eval()
        for i in range(0, t.shape[0], batch):
            rows.append(activations_of(net, model, layer, t[i : i + batch]))
    values = torch.cat(rows)
    check_target(layer, channels, values)
    picked = values[:, channels]  # N x len(channels)
    best = torch.argsort(picked, dim=0, descending=True)[: min(k, t.shape[0])]
    return TopImages(
        layer=layer,
        channels=channels,
        indices=best.T.tolist(),
        activations=[picked[best[:, j], j].tolist() for j in range(len(channels))],
        maximum=picked.max(dim=0).values.tolist(),
    )


@dataclass(frozen=True)
class Study:
    """A visualization and the validation images that activate the same channels most."""

    visualization: Visualization
    top: TopImages
    pictures: np.ndarray  # per channel, the top images: channels x k x H x W x 3 uint8


def study(
    model: Explained,
    layer: str,
    channels: Sequence[int],
    settings: Settings,
    pictures: np.ndarray,
    k: int = 8,
    *,
    report: Callable[..., object] | None = None,
) -> Study:
    """`visualize`, then `top_images` among `pictures` (the job
    `cnnviz.explain.jobs.study_channels` runs it on the model a ModelSpec names)."""
    viz = visualize(model, layer, channels, settings, report=report)
    top = top_images(model, layer, channels, pictures, k)
    arr = np.asarray(pictures)
    if arr.shape[1] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(0, 2, 3, 1)
    chosen = np.stack([arr[idx] for idx in top.indices])
    return Study(viz, top, chosen)
