"""Generated activity clips: one handwritten digit moving or turning on a dark square.

No real video data set ships with rnnkit, so the video task is demonstrated and tested on
clips generated here from a real image source: scikit-learn's bundled handwritten digits
(`sklearn.datasets.load_digits`: 1,797 images of 8 x 8 pixels, 17 gray levels, offline).

Shape alphabet: N clips, T frames, S canvas side (pixels), D the digit's drawn side.

Each clip is T frames of S x S pixels in which one digit image, drawn D pixels wide, does one
of six activities (`MOTIONS`):

    left, right, up, down       it moves v pixels per frame (v drawn per clip)
    clockwise, counterclockwise it turns w degrees per frame about its centre, as seen on
                                the screen (w drawn per clip)

from a random start position, upright within a small random tilt (so that a turning digit's
direction shows in each early frame's pose against the upright one, not only in how
consecutive frames differ, which a per-frame encoder and a recurrent stack learn slowly),
with Gaussian pixel noise of a deviation drawn per clip, values clipped to [0, 1]. Frame t is
the digit image placed by an affine map (rotation by theta_t about the centre c_t), sampled
bilinearly:

    c_t = c_{t-1} + velocity(m_t),  theta_t = theta_{t-1} + turn(m_t),  m_t the motion at t

and a trajectory that would leave the canvas is shrunk to fit. With `switch`, the motion
changes once, after a random k in [T/4, 3T/4] frames, to another one: per-frame labels
m_0 .. m_{T-1} for many-to-many models (frame t is labelled with the motion that brought the
digit there; frame 0 with the first motion).

The digit images are split by index, disjointly: images 0-1077 make training clips, 1078-1437
dev clips, 1438-1796 test clips, so a test score measures clips of digit images never seen in
training. Everything is drawn from a torch.Generator seeded with (seed, split): the same
arguments give the same clips. Needs scikit-learn (the `video` extra).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import RnnkitError

MOTIONS = ("left", "right", "up", "down", "clockwise", "counterclockwise")
# Images [start, stop) of sklearn's 1,797 digits that each split draws from.
SPLITS = {"train": (0, 1078), "dev": (1078, 1438), "test": (1438, 1797)}
FORMATS = ("mkv", "mp4", "frames")
# Each motion's step from one frame to the next: (dx, dy, turn), x right, y down.
_STEP = {
    "left": (-1, 0, 0),
    "right": (1, 0, 0),
    "up": (0, -1, 0),
    "down": (0, 1, 0),
    "clockwise": (0, 0, 1),
    "counterclockwise": (0, 0, -1),
}


@dataclass(frozen=True)
class MovingDigitsSpec:
    """What the generated clips look like (see the module docstring)."""

    # T, frames per clip.
    frames: int = 16
    # S, the side of the square frames in pixels.
    size: int = 32
    # D, the side the 8 x 8 digit image is drawn at, in pixels.
    digit_size: int = 14
    # Speed of the moving digits, pixels per frame: drawn uniformly per clip.
    min_speed: float = 0.6
    max_speed: float = 1.2
    # Speed of the turning digits, degrees per frame: drawn uniformly per clip (16 frames
    # turn 60-120 degrees: past about 90 degrees a digit's pose says less about the way it
    # turns, and far past 180 clockwise and counterclockwise poses coincide).
    min_turn: float = 4.0
    max_turn: float = 8.0
    # Every digit starts upright, tilted by up to this many degrees either way (drawn per
    # clip): a turning digit's direction shows from its first frames.
    start_tilt: float = 10.0
    # Largest deviation of the Gaussian pixel noise (pixels in [0, 1]): drawn per clip.
    noise: float = 0.05
    # The motion changes once mid-clip (per-frame labels).
    switch: bool = False

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise RnnkitError("a moving-digit clip needs at least 2 frames")
        if not 4 <= self.digit_size <= self.size:
            raise RnnkitError(f"need 4 <= digit size <= frame size, got {self.digit_size}")
        if not 0 <= self.min_speed <= self.max_speed or not 0 <= self.min_turn <= self.max_turn:
            raise RnnkitError("need 0 <= min <= max for the speeds and turns")
        if not 0 <= self.start_tilt <= 180:
            raise RnnkitError(f"the start tilt must be in [0, 180] degrees, got {self.start_tilt}")
        if self.noise < 0:
            raise RnnkitError("the noise deviation must be 0 or more")


# eq=False: == on tensor fields has no single truth value; compare the fields instead.
@dataclass(frozen=True, eq=False)
class Clips:
    """N generated clips: frames (N, T, 1, S, S) float32 in [0, 1]; labels (N,) motion ids
    (index into MOTIONS), or (N, T) one per frame when the spec switches; images (N,) the
    index of each clip's digit image in sklearn's digits."""

    frames: Tensor
    labels: Tensor
    images: Tensor


@lru_cache(maxsize=1)
def digit_images() -> Tensor:
    """sklearn's 1,797 handwritten digits as (1797, 8, 8) float32 in [0, 1] (16 -> 1)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise RnnkitError(
            "the moving-digit clips are made from scikit-learn's digits: "
            "pip install 'rnnkit[video]'"
        ) from e
    return torch.from_numpy(load_digits().images).float() / 16.0


def make_clips(split: str, n: int, seed: int, spec: MovingDigitsSpec | None = None) -> Clips:
    """`n` clips drawn from the digit images of `split` ("train", "dev" or "test"), the same
    ones for the same (split, n, seed, spec). Motions are balanced: clip i does motion i % 6
    before shuffling (with `switch`, that is its first motion)."""
    spec = spec or MovingDigitsSpec()
    if split not in SPLITS:
        raise RnnkitError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if n < 1:
        raise RnnkitError(f"need at least one clip, got {n}")
    g = torch.Generator().manual_seed(seed * len(SPLITS) + list(SPLITS).index(split))
    start, stop = SPLITS[split]
    images = torch.randint(start, stop, (n,), generator=g)
    motions = _motions(n, spec, g)  # (N, T)
    centres, angles = _trajectories(motions, spec, g)  # (N, T, 2) pixels, (N, T) radians
    frames = _render(digit_images()[images], centres, angles, spec)  # (N, T, S, S)
    sigma = torch.rand(n, 1, 1, 1, generator=g) * spec.noise
    frames = (frames + sigma * torch.randn(frames.shape, generator=g)).clamp(0.0, 1.0)
    labels = motions if spec.switch else motions[:, 0]
    return Clips(frames[:, :, None], labels, images)


def _motions(n: int, spec: MovingDigitsSpec, g: torch.Generator) -> Tensor:
    """(N, T) motion ids: one per clip, or a first and a different second one after k."""
    first = torch.randperm(n, generator=g) % len(MOTIONS)  # balanced
    motions = first[:, None].repeat(1, spec.frames)  # (N, T)
    if spec.switch:
        T = spec.frames
        second = (first + torch.randint(1, len(MOTIONS), (n,), generator=g)) % len(MOTIONS)
        k = torch.randint(T // 4, 3 * T // 4 + 1, (n,), generator=g)  # (N,)
        later = torch.arange(T)[None, :] >= k[:, None]  # (N, T)
        motions = torch.where(later, second[:, None], motions)
    return motions


def _trajectories(
    motions: Tensor, spec: MovingDigitsSpec, g: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Centres (N, T, 2) in pixels (x right, y down) and angles (N, T) in radians."""
    n = motions.shape[0]
    steps = torch.tensor([_STEP[m] for m in MOTIONS], dtype=torch.float32)[motions]  # (N,T,3)
    steps[:, 0] = 0.0  # frame 0 is where the clip starts
    speed = spec.min_speed + (spec.max_speed - spec.min_speed) * torch.rand(n, generator=g)
    turn = spec.min_turn + (spec.max_turn - spec.min_turn) * torch.rand(n, generator=g)
    path = steps[..., :2].cumsum(1) * speed[:, None, None]  # (N, T, 2) from the start
    angles = steps[..., 2].cumsum(1) * torch.deg2rad(turn)[:, None]  # (N, T)
    tilt = math.radians(spec.start_tilt) * (2 * torch.rand(n, 1, generator=g) - 1)
    angles = angles + tilt
    room = float(spec.size - spec.digit_size)  # the centre stays within [D/2, S - D/2]
    low, high = path.min(1).values, path.max(1).values  # (N, 2)
    span = high - low
    shrink = torch.where(span > room, room / span.clamp_min(1e-6), torch.ones_like(span))
    path, low, span = path * shrink[:, None], low * shrink, span * shrink
    start = spec.digit_size / 2 + (room - span) * torch.rand(n, 2, generator=g) - low  # (N, 2)
    return start[:, None] + path, angles


def _render(images: Tensor, centres: Tensor, angles: Tensor, spec: MovingDigitsSpec) -> Tensor:
    """Each frame: the clip's (8, 8) image turned by its angle about its centre, drawn D
    pixels wide at its centre on an S x S canvas -> (N, T, S, S).

    affine_grid maps each canvas point x (normalised to [-1, 1]) to a point of the digit
    image u = (S / D) R(-theta) (x - c), with c the normalised centre; R(theta) turns
    clockwise on the screen (y points down), so the digit appears turned by +theta."""
    n, T = angles.shape
    S = spec.size
    cos, sin = angles.cos(), angles.sin()
    inverse = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    inverse = inverse * (S / spec.digit_size)  # (N, T, 2, 2)
    c = centres * (2.0 / S) - 1.0  # (N, T, 2) normalised
    shift = -(inverse @ c[..., None])  # (N, T, 2, 1)
    theta = torch.cat([inverse, shift], dim=-1).reshape(n * T, 2, 3)
    grid = F.affine_grid(theta, [n * T, 1, S, S], align_corners=False)
    source = images[:, None, None].expand(n, T, 1, 8, 8).reshape(n * T, 1, 8, 8)
    drawn = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return drawn.reshape(n, T, S, S)


def write_moving_digits(
    folder: str | Path,
    n: int,
    seed: int,
    split: str = "train",
    spec: MovingDigitsSpec | None = None,
    format: str = "mkv",
) -> Path:
    """Write `n` generated clips (`make_clips`) to `folder` as files a user's data would be,
    and their labels.tsv (`clip<TAB>label`, or `clip<TAB>label label ...` one per frame with
    `spec.switch`); returns the labels.tsv. format: "mkv" (lossless ffv1 video), "mp4"
    (mpeg4, lossy) or "frames" (a folder of PNG frames per clip)."""
    from rnnkit.data.video import write_frame_folder, write_video

    if format not in FORMATS:
        raise RnnkitError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    clips = make_clips(split, n, seed, spec)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    pixels = (clips.frames[:, :, 0] * 255).round().to(torch.uint8)  # (N, T, S, S)
    for i in range(n):
        name = f"clip_{i:04d}" + ("" if format == "frames" else f".{format}")
        if format == "frames":
            write_frame_folder(out / name, pixels[i])
        else:
            write_video(out / name, pixels[i])
        labels = clips.labels[i].reshape(-1).tolist()
        rows.append(f"{name}\t{' '.join(MOTIONS[m] for m in labels)}\n")
    tsv = out / "labels.tsv"
    tsv.write_text("".join(rows), encoding="utf-8")
    return tsv
