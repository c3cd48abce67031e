"""Reading and writing WAV files: one mono float32 waveform per file, at the rate asked for.

Shape alphabet: N samples, C channels.

A WAV file holds N frames of C channels, stored as 8-bit unsigned, 16/24/32-bit signed PCM or
32/64-bit float. `read_wav` returns them as one channel of float32 samples, the PCM ones
scaled into [-1, 1) (libsndfile's convention: a 16-bit value v becomes v / 32768):

    x[n] = (1/C) sum_c x_c[n]          several channels are mixed down by their mean

and, when a `rate` is asked for and the file has another, resampled by soxr (its default
high-quality filter), which is logged: a changed rate is never silent.

Reading needs the `speech` extra (soundfile and soxr: `pip install 'rnnkit[speech]'`); they
are imported when a file is read, so the core package stays lean.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.atomic import atomic_write
from rnnkit.errors import DataError, RnnkitError

log = logging.getLogger(__name__)

_SPEECH_EXTRA = "reading audio needs the speech extra: pip install 'rnnkit[speech]'"
# libsndfile's names of the WAV family: RIFF WAVE (with or without WAVE_FORMAT_EXTENSIBLE),
# and its 64-bit forms RF64 and Sony Wave64.
_WAV_FORMATS = ("WAV", "WAVEX", "RF64", "W64")


# eq=False: == on tensor fields has no single truth value; compare the fields instead.
@dataclass(frozen=True, eq=False)
class Audio:
    """One mono recording.

    samples:     (N,) float32; PCM files give values in [-1, 1); float files give what they
                 store, and resampling can overshoot +-1 slightly (the filter rings).
    rate:        samples per second of `samples` (the rate asked for, else the file's).
    source_rate: the file's own rate, before resampling.
    path:        the file it was read from.
    """

    samples: Tensor  # (N,)
    rate: int
    source_rate: int
    path: str

    @property
    def seconds(self) -> float:
        """Duration: N / rate."""
        return self.samples.shape[0] / self.rate


def _soundfile() -> ModuleType:
    try:
        import soundfile
    except ImportError as e:  # soundfile missing, or its libsndfile
        raise RnnkitError(_SPEECH_EXTRA) from e
    return soundfile


def _soxr() -> ModuleType:
    try:
        import soxr
    except ImportError as e:
        raise RnnkitError(_SPEECH_EXTRA) from e
    return soxr


def read_wav(path: str | Path, rate: int | None = None) -> Audio:
    """Read a WAV file as one channel of float32 samples, resampled to `rate` when given.

    path: a WAV file: PCM 8 (unsigned), 16, 24 or 32-bit, or float 32/64-bit, any number of
          channels (mixed down by their mean, see the module docstring).
    rate: samples per second wanted; None keeps the file's rate. A different file rate is
          resampled with soxr and logged at INFO level, naming the file and both rates.

    A truncated file (its header declares more frames than the file holds, as after an
    interrupted copy or a recorder that never finished its header) is read as far as it goes,
    with a WARNING naming the file and both frame counts.

    Raises DataError (an RnnkitError) naming the file when it is missing, empty (0 bytes or
    0 frames), not a WAV file, or holds NaN or infinite samples; RnnkitError when soundfile
    or soxr is not installed.
    """
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        raise RnnkitError(f"read_wav: rate must be a positive integer (Hz) or None, got {rate!r}")
    path = Path(path)
    data, file_rate = _read_frames(path)  # (N, C)
    bad = ~np.isfinite(data).all(axis=1)  # (N,)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"contains NaN/inf samples at sample {first} ({int(bad.sum())} of {bad.shape[0]} "
            "samples); expected finite audio",
            path=path,
        )
    samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]  # (N,)
    out_rate = file_rate
    if rate is not None and rate != file_rate:
        samples = _soxr().resample(samples, file_rate, rate)  # (N * rate / file_rate,)
        log.info("%s: resampled from %d Hz to %d Hz", path, file_rate, rate)
        out_rate = rate
        if samples.shape[0] == 0:
            raise DataError(
                f"{data.shape[0]} frames at {file_rate} Hz are too short to resample to {rate} Hz",
                path=path,
            )
    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))  # (N,)
    return Audio(samples=tensor, rate=out_rate, source_rate=file_rate, path=str(path))


def _read_frames(path: Path) -> tuple[np.ndarray, int]:
    """The file's (N, C) float32 frames and its rate, or a DataError saying what is wrong."""
    sf = _soundfile()
    if not path.exists():
        raise DataError("no such file; expected a WAV file", path=path)
    if path.is_dir():
        raise DataError("is a folder; expected a WAV file", path=path)
    if path.stat().st_size == 0:
        raise DataError("is empty (0 bytes); expected a WAV file", path=path)
    try:
        info = sf.info(str(path))
        if info.format not in _WAV_FORMATS:
            raise DataError(f"is a {info.format} file ({info.format_info}), not WAV", path=path)
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)  # (N, C)
    except (sf.LibsndfileError, RuntimeError) as e:
        why = getattr(e, "error_string", None) or str(e)
        raise DataError(f"not a readable WAV file ({why})", path=path) from e
    if data.shape[0] == 0:
        raise DataError("holds no audio (0 frames); expected at least one sample", path=path)
    declared = _declared_frames(path)
    if declared is not None and declared > data.shape[0]:
        log.warning(
            "%s: truncated: the header declares %d frames, the file holds %d; reading those %d",
            path,
            declared,
            data.shape[0],
            data.shape[0],
        )
    return data, int(file_rate)


def _declared_frames(path: Path) -> int | None:
    """The number of frames a RIFF/RIFX WAVE header declares (its data chunk's size over the
    frame size), or None for a file that is not one (RF64, Wave64) or whose header is odd.

    libsndfile shortens a truncated file's frame count to what is present, so this count is
    read from the header itself: the chunks after "RIFF" <size> "WAVE" are <id> <size> <data>,
    each padded to an even size; "fmt " holds the frame size (block align) at byte 12.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX"):
            return None
        order = "<" if head[:4] == b"RIFF" else ">"
        block_align = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size + size % 2)
                if len(fmt) < 14:
                    return None
                block_align = struct.unpack(order + "H", fmt[12:14])[0]
            elif cid == b"data":
                return size // block_align if block_align > 0 else None
            else:
                f.seek(size + size % 2, 1)


def write_wav(path: str | Path, samples: Tensor | np.ndarray, rate: int) -> None:
    """Write mono samples as a 16-bit PCM WAV file, atomically (a temporary file beside `path`,
    then a rename: a reader never sees half a file).

    samples: (N,) float, nominally in [-1, 1]; values beyond are clipped to +-1 (as a sound
             card would), NaN or infinity is an error.
    rate:    samples per second.
    """
    array = samples.detach().cpu().numpy() if isinstance(samples, Tensor) else np.asarray(samples)
    if array.ndim != 1 or array.shape[0] == 0:
        raise RnnkitError(f"{path}: expected samples of shape (N,) with N >= 1, got {array.shape}")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise RnnkitError(f"{path}: rate must be a positive integer (Hz), got {rate!r}")
    if not np.isfinite(array).all():
        first = int(np.flatnonzero(~np.isfinite(array))[0])
        raise RnnkitError(f"{path}: cannot write NaN/inf samples (at sample {first})")
    clipped = np.clip(array.astype(np.float32), -1.0, 1.0)  # (N,)
    sf = _soundfile()
    with atomic_write(Path(path)) as f:
        sf.write(f, clipped, rate, subtype="PCM_16", format="WAV")


__all__ = ["Audio", "read_wav", "write_wav"]
