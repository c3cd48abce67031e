"""Speech features in torch: log-mel energies and MFCCs of a padded batch of waveforms.

Shape alphabet: B batch, N samples, F = n_fft/2 + 1 frequency bins, M mel bands, T frames,
D features per frame (M for log-mel, n_mfcc for MFCC).

For each utterance x[0..N-1] (samples beyond its length are zero):

    X[t, f] = sum_n w[n] x[t*hop - n_fft/2 + n] exp(-2 pi i f n / n_fft)
              (a centred STFT: n_fft/2 zeros padded on both sides; w a periodic Hann window
              of win_length samples centred in n_fft; T = 1 + N // hop frames, for even n_fft)
    P[t, f] = |X[t, f]|^2                                    power spectrum     (T, F)
    S[t, m] = sum_f W[m, f] P[t, f]                          mel energies       (T, M)
    L[t, m] = max(10 log10(max(S[t, m], 1e-10)), max_{t',m'} L[t', m'] - top_db)   dB  (T, M)
    C[t, k] = sum_m L[t, m] c_k sqrt(2/M) cos(pi k (2m + 1) / (2M)),  k < n_mfcc     (T, n_mfcc)
              (the orthonormal DCT-II: c_0 = 1/sqrt(2), c_k = 1 otherwise)

W is the Slaney mel filterbank (triangles on the Slaney mel scale, each scaled to unit area
over Hz). The features equal librosa's `power_to_db(melspectrogram(..., center=True,
pad_mode="constant", htk=False, norm="slaney"))` and `mfcc(...)` utterance by utterance; the
top_db floor is taken per utterance over its real frames, and padded frames are 0, so an
utterance gets the same features alone as in any padded batch. Everything runs on the device
and in the dtype (float32 or float64) of the waves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.batch import mask_from_lengths
from rnnkit.errors import RnnkitError

KINDS = ("logmel", "mfcc")
_AMIN = 1e-10  # energy floor before the log: -100 dB


@dataclass(frozen=True)
class FeatureConfig:
    """How waveforms become feature frames; saved with every speech checkpoint."""

    # "logmel": log-mel energies in dB (D = n_mels); "mfcc": their DCT-II (D = n_mfcc).
    kind: str = "logmel"
    # Samples per second the waves were read at (read_wav(path, rate=sample_rate)).
    sample_rate: int = 8000
    # FFT size: n_fft // 2 + 1 frequency bins, sample_rate / n_fft apart (31.25 Hz at 8 kHz).
    n_fft: int = 256
    # Hann window length in samples (25 ms at 8 kHz), centred in the n_fft samples of a frame.
    win_length: int = 200
    # Samples between the centres of consecutive frames (10 ms at 8 kHz: 100 frames a second).
    hop_length: int = 80
    # Mel bands of the filterbank.
    n_mels: int = 40
    # Cepstral coefficients kept when kind == "mfcc" (the first, c_0, included).
    n_mfcc: int = 13
    # Lowest edge of the filterbank, Hz.
    fmin: float = 0.0
    # Highest edge of the filterbank, Hz; None = sample_rate / 2 (the Nyquist frequency).
    fmax: float | None = None
    # Dynamic range kept per utterance: dB values below its maximum - top_db are raised to
    # that floor; None keeps everything down to the 1e-10 energy floor (-100 dB).
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        _check(self.kind in KINDS, "kind", "one of " + ", ".join(KINDS), self.kind)
        for name in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "n_mfcc"):
            value = getattr(self, name)
            _check(_is_int(value) and value >= 1, name, "an integer >= 1", value)
        _check(self.win_length <= self.n_fft, "win_length", "<= n_fft", self.win_length)
        _check(self.n_mfcc <= self.n_mels, "n_mfcc", "<= n_mels", self.n_mfcc)
        nyquist = self.sample_rate / 2
        ok = _is_number(self.fmin) and 0 <= self.fmin < nyquist
        _check(ok, "fmin", f"in [0, {nyquist:g}) Hz", self.fmin)
        if self.fmax is not None:
            ok = _is_number(self.fmax) and self.fmin < self.fmax <= nyquist
            _check(ok, "fmax", f"in (fmin={self.fmin:g}, {nyquist:g}] Hz or None", self.fmax)
        if self.top_db is not None:
            ok = _is_number(self.top_db) and self.top_db >= 0
            _check(ok, "top_db", "a finite number >= 0 or None", self.top_db)

    @property
    def dim(self) -> int:
        """D, the features per frame: n_mels for log-mel, n_mfcc for MFCC."""
        return self.n_mels if self.kind == "logmel" else self.n_mfcc

    @property
    def fmax_hz(self) -> float:
        """The filterbank's highest edge in Hz (fmax, or sample_rate / 2 when fmax is None)."""
        return self.sample_rate / 2 if self.fmax is None else float(self.fmax)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(ok: bool, field: str, expected: str, got: Any) -> None:
    """Raise the house's config error: `--n-fft (FeatureConfig.n_fft) must be ..., got ...`."""
    if not ok:
        flag = "--" + field.replace("_", "-")
        raise RnnkitError(f"{flag} (FeatureConfig.{field}) must be {expected}, got {got!r}")


# The Slaney mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
# (27 mels per factor 6.4 in frequency), continuous at 1 kHz = 15 mels.
_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _LINEAR_HZ_PER_MEL
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: Tensor) -> Tensor:
    """Slaney mel of frequencies in Hz (elementwise)."""
    linear = hz / _LINEAR_HZ_PER_MEL
    log = _BREAK_MEL + torch.log(hz.clamp_min(_BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return torch.where(hz < _BREAK_HZ, linear, log)


def mel_to_hz(mel: Tensor) -> Tensor:
    """Frequencies in Hz of Slaney mels (elementwise): the inverse of `hz_to_mel`."""
    linear = mel * _LINEAR_HZ_PER_MEL
    log = _BREAK_HZ * torch.exp(_LOG_STEP * (mel.clamp_min(_BREAK_MEL) - _BREAK_MEL))
    return torch.where(mel < _BREAK_MEL, linear, log)


def mel_filterbank(
    cfg: FeatureConfig, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> Tensor:
    """W (M, F): the Slaney-normalised mel filterbank, computed in float64.

    M + 2 edges e_0 < ... < e_{M+1} are equally spaced in Slaney mels from fmin to fmax;
    filter m is the triangle rising from e_m to 1 at e_{m+1} and falling to 0 at e_{m+2},
    evaluated at the FFT bin frequencies f * sample_rate / n_fft, times 2 / (e_{m+2} - e_m)
    so that every filter has the same area. Equal to librosa.filters.mel(htk=False,
    norm="slaney"). Raises RnnkitError when a filter falls between two bins (all zero): too
    many mel bands for the FFT size.
    """
    f64 = torch.float64
    bins = torch.arange(cfg.n_fft // 2 + 1, dtype=f64) * cfg.sample_rate / cfg.n_fft  # (F,)
    span = hz_to_mel(torch.tensor([float(cfg.fmin), cfg.fmax_hz], dtype=f64))
    edges = mel_to_hz(torch.linspace(float(span[0]), float(span[1]), cfg.n_mels + 2, dtype=f64))
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (M, 1)
    rising = (bins - low) / (centre - low)  # (M, F)
    falling = (high - bins) / (high - centre)  # (M, F)
    weights = torch.minimum(rising, falling).clamp_min(0) * (2.0 / (high - low))  # (M, F)
    empty = (weights.amax(dim=1) == 0).nonzero().flatten().tolist()
    if empty:
        raise RnnkitError(
            f"{len(empty)} mel filter(s) of {cfg.n_mels} (the first: {empty[:5]}) cover no "
            f"FFT bin: n_mels={cfg.n_mels} is too "
            f"many for n_fft={cfg.n_fft} at {cfg.sample_rate} Hz; lower --n-mels or raise --n-fft"
        )
    return weights.to(dtype=dtype, device=device)


@lru_cache(maxsize=32)
def _mel_basis(cfg: FeatureConfig, dtype: torch.dtype, device: torch.device) -> Tensor:
    return mel_filterbank(cfg, dtype, device)  # (M, F), cached per config, dtype and device


@lru_cache(maxsize=32)
def _dct_matrix(n_mels: int, n_mfcc: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(n_mfcc, M): rows k of the orthonormal DCT-II, c_k sqrt(2/M) cos(pi k (2m + 1) / 2M)."""
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]  # (n_mfcc, 1)
    m = torch.arange(n_mels, dtype=torch.float64)[None, :]  # (1, M)
    basis = math.sqrt(2.0 / n_mels) * torch.cos(math.pi * k * (2 * m + 1) / (2 * n_mels))
    basis[0] /= math.sqrt(2.0)
    return basis.to(dtype=dtype, device=device)


def frame_count(num_samples: int, cfg: FeatureConfig) -> int:
    """T, the frames of a centred STFT over `num_samples` samples: 1 + N // hop_length
    for an even n_fft (in general 1 + (N + 2 (n_fft // 2) - n_fft) // hop_length).

    A clip shorter than one window still gives 1 + N // hop_length frames (at least one):
    the centre padding makes room for a frame at t = 0.
    """
    return 1 + (num_samples + 2 * (cfg.n_fft // 2) - cfg.n_fft) // cfg.hop_length


def frame_lengths(lengths: Tensor, cfg: FeatureConfig) -> Tensor:
    """`frame_count` of each utterance: (B,) sample lengths -> (B,) frame lengths."""
    return 1 + torch.div(
        lengths + 2 * (cfg.n_fft // 2) - cfg.n_fft, cfg.hop_length, rounding_mode="floor"
    )


def _check_waves(waves: Tensor, lengths: Tensor) -> None:
    if waves.dim() != 2 or waves.dtype not in (torch.float32, torch.float64):
        raise RnnkitError(
            f"expected waves of shape (B, N), float32 or float64, "
            f"got {tuple(waves.shape)} {waves.dtype}"
        )
    if lengths.shape != (waves.shape[0],) or lengths.dtype.is_floating_point:
        raise RnnkitError(
            f"expected integer lengths of shape ({waves.shape[0]},) for waves of shape "
            f"{tuple(waves.shape)}, got {tuple(lengths.shape)} {lengths.dtype}"
        )
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > waves.shape[1]):
        raise RnnkitError(f"lengths must be in [1, N={waves.shape[1]}], got {lengths.tolist()}")


def log_mel(waves: Tensor, lengths: Tensor, cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """Log-mel energies in dB of a padded batch (the module docstring's L).

    waves:   (B, N) float32 or float64; samples past an utterance's length are ignored.
    lengths: (B,) int, samples of each utterance (1 <= length <= N).
    Returns (features (B, T, n_mels), frame lengths (B,)) with T the longest frame length;
    padded frames are 0. The top_db floor is per utterance, over its real frames.
    """
    _check_waves(waves, lengths)
    lengths = lengths.to(device=waves.device, dtype=torch.int64)
    waves = waves.masked_fill(~mask_from_lengths(lengths, waves.shape[1]), 0.0)  # (B, N)
    window = torch.hann_window(
        cfg.win_length, periodic=True, dtype=waves.dtype, device=waves.device
    )  # (win_length,), centred in n_fft by torch.stft
    spectrum = torch.stft(
        waves,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )  # (B, F, T)
    power = spectrum.real.square() + spectrum.imag.square()  # (B, F, T)
    basis = _mel_basis(cfg, waves.dtype, waves.device)  # (M, F)
    energies = torch.matmul(basis, power).transpose(1, 2)  # (B, T, M)
    frames = frame_lengths(lengths, cfg)  # (B,)
    T = int(frames.max())
    real = mask_from_lengths(frames, T)[:, :, None]  # (B, T, 1)
    db = 10.0 * torch.log10(energies[:, :T].clamp_min(_AMIN))  # (B, T, M)
    if cfg.top_db is not None:
        peak = db.masked_fill(~real, -math.inf).amax(dim=(1, 2), keepdim=True)  # (B, 1, 1)
        db = torch.maximum(db, peak - cfg.top_db)
    return db.masked_fill(~real, 0.0), frames


def mfcc(waves: Tensor, lengths: Tensor, cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """MFCCs: the orthonormal DCT-II of the dB log-mel energies over the mel axis, first
    n_mfcc coefficients (the module docstring's C; top_db applies to the log-mel first).

    waves (B, N), lengths (B,) as for `log_mel`. Returns (features (B, T, n_mfcc), frame
    lengths (B,)); padded frames are 0.
    """
    db, frames = log_mel(waves, lengths, cfg)  # (B, T, M)
    dct = _dct_matrix(cfg.n_mels, cfg.n_mfcc, db.dtype, db.device)  # (n_mfcc, M)
    return db @ dct.T, frames  # (B, T, n_mfcc); zero frames stay zero


def features(waves: Tensor, lengths: Tensor, cfg: FeatureConfig) -> tuple[Tensor, Tensor]:
    """The features `cfg.kind` names: `log_mel` or `mfcc`. Returns ((B, T, D), (B,))."""
    return mfcc(waves, lengths, cfg) if cfg.kind == "mfcc" else log_mel(waves, lengths, cfg)


def _padding(x: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, 1) bool, True on the padded frames of x (B, T, D), on x's device.

    Padding is cleared with masked_fill rather than a product with a 0/1 mask, so that
    whatever it held (NaN included) cannot leak into the result."""
    return ~mask_from_lengths(lengths.to(x.device), x.shape[1])[:, :, None]  # (B, T, 1)


# eq=False: == on tensor fields has no single truth value; compare the fields instead.
@dataclass(frozen=True, eq=False)
class FeatureStats:
    """Per-feature mean and standard deviation over the real frames of the training split.

    apply:  y[b, t, d] = (x[b, t, d] - mean[d]) / std[d] on real frames, 0 on padded ones.
    Fit on the training split only (the dev and test splits are normalised with its stats),
    and saved with the checkpoint through `to_dict` (JSON lists of floats).
    """

    mean: Tensor  # (D,) float64
    std: Tensor  # (D,) float64, > 0 (floored at `eps` when fitted)

    def __post_init__(self) -> None:
        if self.mean.dim() != 1 or self.mean.shape != self.std.shape:
            raise RnnkitError(
                f"FeatureStats: expected mean and std of one shape (D,), got "
                f"{tuple(self.mean.shape)} and {tuple(self.std.shape)}"
            )
        if not (torch.isfinite(self.mean).all() and (self.std > 0).all()):
            raise RnnkitError("FeatureStats: expected a finite mean and a finite std > 0")

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, batches: Iterable[tuple[Tensor, Tensor]], eps: float = 1e-5) -> FeatureStats:
        """Mean and (population) std over every real frame of `batches`.

        batches: (features (B, T, D), frame lengths (B,)) pairs, as `features` returns them;
                 padded frames are ignored. Batches are merged by Chan et al.'s pairwise
                 update of (count, mean, sum of squared deviations), in float64.
        eps:     floor of the std, so that a constant feature maps to 0 rather than NaN.
        """
        count, mean, m2 = 0, torch.zeros(0, dtype=torch.float64), torch.zeros(0)
        for x, lengths in batches:
            real = ~_padding(x, lengths)[:, :, 0]  # (B, T)
            frames = x[real].to(device="cpu", dtype=torch.float64)  # (n, D)
            n = frames.shape[0]
            if n == 0:
                continue
            batch_mean = frames.mean(dim=0)  # (D,)
            batch_m2 = (frames - batch_mean).square().sum(dim=0)  # (D,)
            if count == 0:
                count, mean, m2 = n, batch_mean, batch_m2
                continue
            if batch_mean.shape != mean.shape:
                raise RnnkitError(
                    f"FeatureStats.fit: a batch has {frames.shape[1]} features per frame, "
                    f"the first had {mean.shape[0]}"
                )
            delta = batch_mean - mean  # (D,)
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + batch_m2 + delta.square() * (count * n / total)
            count = total
        if count == 0:
            raise RnnkitError("FeatureStats.fit: no frames to fit on (no batches, or all empty)")
        return cls(mean=mean, std=(m2 / count).sqrt().clamp_min(eps))

    def apply(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(x - mean) / std on the real frames of x (B, T, D); padded frames stay 0."""
        if x.dim() != 3 or x.shape[2] != self.dim:
            raise RnnkitError(f"expected features (B, T, {self.dim}), got {tuple(x.shape)}")
        mean = self.mean.to(device=x.device, dtype=x.dtype)  # (D,)
        std = self.std.to(device=x.device, dtype=x.dtype)  # (D,)
        return ((x - mean) / std).masked_fill(_padding(x, lengths), 0.0)  # (B, T, D)

    def to_dict(self) -> dict[str, list[float]]:
        """{"mean": [...], "std": [...]}: plain floats, for the checkpoint's JSON."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureStats:
        """The inverse of `to_dict`; RnnkitError when a key is missing or not a list of floats."""
        values = {}
        for key in ("mean", "std"):
            item = data.get(key) if isinstance(data, Mapping) else None
            if not isinstance(item, list) or not all(_is_number(v) for v in item):
                raise RnnkitError(f"FeatureStats: expected {key!r}, a list of numbers")
            values[key] = torch.tensor(item, dtype=torch.float64)
        return cls(mean=values["mean"], std=values["std"])


def per_utterance_normalize(x: Tensor, lengths: Tensor, eps: float = 1e-5) -> Tensor:
    """Cepstral mean and variance normalisation (CMVN) of each utterance by itself:

        y[b, t, d] = (x[b, t, d] - mean_b[d]) / max(std_b[d], eps)

    with mean_b and std_b (population) over utterance b's real frames. x (B, T, D),
    lengths (B,) frames; padded frames stay 0.
    """
    padding = _padding(x, lengths)  # (B, T, 1)
    count = (~padding).sum(dim=1, keepdim=True)  # (B, 1, 1)
    mean = x.masked_fill(padding, 0.0).sum(dim=1, keepdim=True) / count  # (B, 1, D)
    centred = (x - mean).masked_fill(padding, 0.0)  # (B, T, D)
    var = centred.square().sum(dim=1, keepdim=True) / count  # (B, 1, D)
    return centred / var.sqrt().clamp_min(eps)  # (B, T, D)


def _spans(
    limits: Tensor, count: int, width: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """`count` random spans per row inside [0, limits[b]): widths uniform in
    [0, min(width, limit)], starts uniform over the places the span fits. (B, count) each."""
    device = generator.device if generator is not None else torch.device("cpu")
    limits = limits.to(device=device, dtype=torch.int64)[:, None]  # (B, 1)
    u = torch.rand(2, limits.shape[0], count, generator=generator, device=device)
    widths = (u[0] * (limits.clamp(max=width) + 1)).long()  # (B, count)
    starts = (u[1] * (limits - widths + 1)).long()  # (B, count)
    return starts, starts + widths


def _covered(starts: Tensor, ends: Tensor, size: int, device: torch.device) -> Tensor:
    """(B, size) bool: True where a position lies in one of the spans [starts, ends)."""
    pos = torch.arange(size, device=device)[None, None, :]  # (1, 1, size)
    starts, ends = starts.to(device)[:, :, None], ends.to(device)[:, :, None]  # (B, count, 1)
    return ((pos >= starts) & (pos < ends)).any(dim=1)  # (B, size)


def spec_augment(
    x: Tensor,
    lengths: Tensor,
    *,
    time_masks: int = 2,
    time_width: int = 10,
    freq_masks: int = 2,
    freq_width: int = 8,
    generator: torch.Generator | None = None,
) -> Tensor:
    """SpecAugment's masking (Park et al., 2019) on normalised features x (B, T, D).

    For each utterance, `time_masks` spans of frames inside its real frames and `freq_masks`
    bands of features are set to 0 (the mean, after normalisation); each width is drawn
    uniformly in [0, width] (capped at the utterance's frames, or D), each start uniformly
    where the span fits. Spans may overlap. Draws come from `generator` (on its device; the
    default CPU generator when None), so a seeded generator repeats them. Returns a new tensor.
    """
    counts = {"time_masks": time_masks, "time_width": time_width}
    counts.update(freq_masks=freq_masks, freq_width=freq_width)
    for name, value in counts.items():
        if not _is_int(value) or value < 0:
            raise RnnkitError(f"spec_augment: {name} must be an integer >= 0, got {value!r}")
    B, T, D = x.shape
    t0, t1 = _spans(lengths, time_masks, time_width, generator)  # (B, time_masks)
    f0, f1 = _spans(torch.full((B,), D), freq_masks, freq_width, generator)  # (B, freq_masks)
    hidden = (
        _covered(t0, t1, T, x.device)[:, :, None] | _covered(f0, f1, D, x.device)[:, None, :]
    )  # (B, T, D)
    return x.masked_fill(hidden, 0.0)


def stack_frames(x: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Stack k consecutive frames into one, shortening time k-fold before the recurrence:

        y[b, s] = concat(x[b, s k], x[b, s k + 1], ..., x[b, s k + k - 1])

    x (B, T, D), lengths (B,) -> (y (B, ceil(T / k), k D), lengths ceil(length / k)). Frames
    past an utterance's end (its padding, and the tail that fills its last stack) are zeros,
    so it stacks the same alone as in a batch.
    """
    if not _is_int(k) or k < 1:
        raise RnnkitError(f"stack_frames: k must be an integer >= 1, got {k!r}")
    B, T, D = x.shape
    S = -(-T // k)  # ceil(T / k)
    x = x.masked_fill(_padding(x, lengths), 0.0)  # (B, T, D)
    x = torch.nn.functional.pad(x, (0, 0, 0, S * k - T))  # (B, S k, D)
    stacked_lengths = torch.div(lengths + k - 1, k, rounding_mode="floor")  # (B,)
    return x.reshape(B, S, k * D), stacked_lengths  # (B, S, k D)


__all__ = [
    "KINDS",
    "FeatureConfig",
    "FeatureStats",
    "features",
    "frame_count",
    "frame_lengths",
    "hz_to_mel",
    "log_mel",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "per_utterance_normalize",
    "spec_augment",
    "stack_frames",
]
