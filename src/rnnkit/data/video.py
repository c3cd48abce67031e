"""Reading and writing video clips: a video file, or a folder of numbered frame images.

Shape alphabet: T frames, C channels (1 grayscale, 3 RGB), H height, W width (pixels).

A clip becomes the frames a video model reads, the same way in training and inference:

    decode (PyAV/ffmpeg, or each image of a folder)  -> (T0, H0, W0, 3) uint8 RGB
    keep every k-th frame, at most max_frames of them (`FrameSpec.step`, `.max_frames`)
    x = frame / 255                                   -> values in [0, 1]
    grayscale: x = 0.299 R + 0.587 G + 0.114 B        (ITU-R BT.601 luma)
    resize to (H, W): area averaging when shrinking, bilinear otherwise
                                                      -> (T, C, H, W) float32

Normalisation with the training frames' mean and deviation is the task's step
(`normalize_frames`), since the statistics travel with a checkpoint.

A frame folder holds PNG or JPEG images whose names carry a number, read in numeric order
(frame_2.png before frame_10.png): the last run of digits in each name is its number. Video
files need the `video` extra (PyAV, which bundles ffmpeg: `pip install 'rnnkit[video]'`);
frame images are read with Pillow, which matplotlib (a core dependency) already requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import DataError, RnnkitError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_VIDEO_EXTRA = "reading and writing video files needs the video extra: pip install 'rnnkit[video]'"
# The encoder `write_video` uses for each container: ffv1 is lossless (exact round trips);
# mpeg4 is lossy, and needs an even height and width (its 4:2:0 chroma).
ENCODERS = {".mkv": "ffv1", ".avi": "ffv1", ".mp4": "mpeg4", ".mov": "mpeg4"}
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class FrameSpec:
    """How a clip's frames become a model's input (see the module docstring)."""

    # Every frame is resized to height x width pixels.
    height: int = 32
    width: int = 32
    # One gray channel (C = 1) or three RGB channels (C = 3).
    grayscale: bool = True
    # Keep every step-th frame (1: all of them), starting with the first.
    step: int = 1
    # Keep at most this many frames (after the step); 0: no limit.
    max_frames: int = 0

    def __post_init__(self) -> None:
        for name in ("height", "width", "step"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_frames < 0:
            raise RnnkitError("--max-frames must be 0 (no limit) or more")

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3


def _av() -> ModuleType:
    try:
        import av
    except ImportError as e:
        raise RnnkitError(_VIDEO_EXTRA) from e
    return av


def _pil_image() -> Any:
    from PIL import Image  # installed with matplotlib

    return Image


def read_clip(path: str | Path, spec: FrameSpec) -> Tensor:
    """A video file or a frame folder -> (T, C, H, W) float32 frames in [0, 1]."""
    return to_frames(decode_clip(path, spec), spec)


def decode_clip(path: str | Path, spec: FrameSpec | None = None) -> np.ndarray:
    """The raw frames of a video file or a frame folder, (T, H0, W0, 3) uint8 RGB, with
    `spec`'s step and max_frames applied. DataError naming the path when it is missing, not
    a readable video, holds no frames, or is a folder with no usable frame images."""
    p = Path(path)
    if p.is_dir():
        files = frame_files(p)
        files = subsample(files, spec)
        return _read_images(p, files)
    if not p.exists():
        raise DataError("no such video file or frame folder", p)
    frames = _decode_video(p, spec)
    if len(frames) == 0:
        raise DataError("the clip has no frames", p)
    return np.stack(frames)


def subsample(items: list[Any], spec: FrameSpec | None) -> list[Any]:
    """Every spec.step-th item from the first, at most spec.max_frames of them (0: all)."""
    if spec is None:
        return items
    kept = items[:: spec.step]
    return kept[: spec.max_frames] if spec.max_frames else kept


def _decode_video(path: Path, spec: FrameSpec | None) -> list[np.ndarray]:
    av = _av()
    step = 1 if spec is None else spec.step
    limit = 0 if spec is None else spec.max_frames
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError("holds no video stream", path)
            for n, frame in enumerate(container.decode(video=0)):
                if n % step == 0:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    if limit and len(frames) == limit:
                        break
    except av.error.FFmpegError as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise DataError(f"not a readable video ({reason})", path) from None
    return frames


def frame_number(name: str) -> int | None:
    """The number of a frame image's name: the last run of digits in its stem
    ("frame_0012.png" -> 12, "img3_v2.jpg" -> 2); None when it has none."""
    found = re.findall(r"\d+", Path(name).stem)
    return int(found[-1]) if found else None


def frame_files(folder: Path) -> list[Path]:
    """The frame images of `folder` in numeric order of their numbers; DataError naming the
    folder when it holds none, when a name carries no number, or when two share one."""
    images = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise DataError(f"no frame images ({', '.join(IMAGE_SUFFIXES)}) in this folder", folder)
    numbered: dict[int, Path] = {}
    for p in sorted(images):
        n = frame_number(p.name)
        if n is None:
            raise DataError(
                f"frame image {p.name} has no number in its name; expected numbered names "
                "such as frame_0001.png",
                folder,
            )
        if n in numbered:
            raise DataError(
                f"frame images {numbered[n].name} and {p.name} both have number {n}: the "
                "order of the frames is ambiguous",
                folder,
            )
        numbered[n] = p
    return [numbered[n] for n in sorted(numbered)]


def _read_images(folder: Path, files: list[Path]) -> np.ndarray:
    image = _pil_image()
    frames: list[np.ndarray] = []
    for p in files:
        try:
            with image.open(p) as im:
                rgb = np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as e:
            raise DataError(f"not a readable image ({e})", p) from None
        if frames and rgb.shape != frames[0].shape:
            h0, w0 = frames[0].shape[:2]
            raise DataError(
                f"frame {p.name} is {rgb.shape[1]}x{rgb.shape[0]} pixels but {files[0].name} "
                f"is {w0}x{h0}: every frame of a clip needs the same size",
                folder,
            )
        frames.append(rgb)
    return np.stack(frames)


def to_frames(rgb: np.ndarray, spec: FrameSpec) -> Tensor:
    """(T, H0, W0, 3) uint8 RGB -> (T, C, H, W) float32 in [0, 1]: grayscale (BT.601 luma)
    when asked, resized to spec's height x width."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).float() / 255  # (T,3,H0,W0)
    if spec.grayscale:
        weights = torch.tensor(LUMA).view(1, 3, 1, 1)
        x = (x * weights).sum(dim=1, keepdim=True)  # (T, 1, H0, W0)
    return resize_frames(x, spec.height, spec.width)


def resize_frames(x: Tensor, height: int, width: int) -> Tensor:
    """(T, C, H0, W0) -> (T, C, height, width): unchanged at that size already; area averaging
    when both sides shrink (no aliasing); bilinear interpolation otherwise."""
    if x.shape[-2:] == (height, width):
        return x
    if height <= x.shape[-2] and width <= x.shape[-1]:
        return F.interpolate(x, size=(height, width), mode="area")
    resized = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return resized.clamp(0.0, 1.0)


def normalize_frames(x: Tensor, mean: list[float], std: list[float]) -> Tensor:
    """(..., C, H, W) frames -> (x - mean_c) / std_c for each channel c."""
    m = torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(-1, 1, 1)
    return (x - m) / s


def _as_uint8(clip: np.ndarray | Tensor) -> np.ndarray:
    """(T, H, W) or (T, H, W, 3) uint8, checked."""
    a = clip.numpy() if isinstance(clip, Tensor) else np.asarray(clip)
    if a.dtype != np.uint8:
        raise RnnkitError(f"expected a uint8 clip (values 0-255), got dtype {a.dtype}")
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[-1] != 3) or a.shape[0] == 0:
        raise RnnkitError(f"expected a clip of shape (T, H, W) or (T, H, W, 3), got {a.shape}")
    return a


def write_video(path: str | Path, clip: np.ndarray | Tensor, fps: int = 8) -> Path:
    """Write a (T, H, W) gray or (T, H, W, 3) RGB uint8 clip as a video file; the encoder
    comes from the suffix (`ENCODERS`: .mkv/.avi lossless ffv1, .mp4/.mov mpeg4)."""
    a = _as_uint8(clip)
    p = Path(path)
    codec = ENCODERS.get(p.suffix.lower())
    if codec is None:
        raise RnnkitError(f"{p}: write a video as one of {', '.join(ENCODERS)}")
    gray = a.ndim == 3
    if codec == "ffv1":
        pix_fmt = "gray" if gray else "bgr0"
    else:
        pix_fmt = "yuv420p"
        if a.shape[1] % 2 or a.shape[2] % 2:
            raise RnnkitError(f"{p}: {codec} needs an even height and width, got {a.shape[1:3]}")
    av = _av()
    p.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(p), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = a.shape[1], a.shape[2]
        stream.pix_fmt = pix_fmt
        for frame in a:
            image = av.VideoFrame.from_ndarray(frame, format="gray" if gray else "rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode())  # flush the encoder
    return p


def write_frame_folder(folder: str | Path, clip: np.ndarray | Tensor, digits: int = 4) -> Path:
    """Write a (T, H, W) or (T, H, W, 3) uint8 clip as folder/frame_0000.png, ... (PNG,
    lossless)."""
    a = _as_uint8(clip)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    image = _pil_image()
    for t, frame in enumerate(a):
        image.fromarray(frame).save(out / f"frame_{t:0{digits}d}.png")
    return out


@dataclass(frozen=True)
class ClipLabels:
    """One line of a labels TSV: the clip (a video file or a frame folder), its labels (one
    for the clip, or one per frame) and the line's number."""

    path: Path
    labels: tuple[str, ...]
    line: int


def read_clip_labels(path: str | Path) -> tuple[Path, list[ClipLabels]]:
    """(the TSV, its clips) from a labels TSV or a folder holding labels.tsv. Each line is
    `clip<TAB>label` or `clip<TAB>label label ...` (one label per frame, separated by
    spaces), the clip relative to the TSV's folder; blank lines and lines starting with #
    are skipped. A DataError names the line of a malformed one or of a clip that is not
    there."""
    tsv = Path(path)
    if tsv.is_dir():
        tsv = tsv / "labels.tsv"
    if not tsv.is_file():
        raise DataError("no such labels file (clip<TAB>label lines)", tsv)
    items = []
    text = tsv.read_text(encoding="utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, tab, labels = line.partition("\t")
        if not tab or not name.strip() or not labels.split():
            raise DataError("expected clip<TAB>label (or one label per frame)", tsv, n)
        clip = tsv.parent / name.strip()
        if not clip.exists():
            raise DataError(f"clip {name.strip()}: no such video file or frame folder", tsv, n)
        items.append(ClipLabels(clip, tuple(labels.split()), n))
    if not items:
        raise DataError("lists no clips", tsv)
    return tsv, items
