"""Log-mel and MFCC features against librosa, and their batching, normalisation and masking."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
import torch
from conftest import shared_data

from rnnkit.config import from_dict, to_dict
from rnnkit.data.features import (
    FeatureConfig,
    FeatureStats,
    features,
    frame_count,
    frame_lengths,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    mfcc,
    per_utterance_normalize,
    spec_augment,
    stack_frames,
)
from rnnkit.errors import RnnkitError

librosa = pytest.importorskip("librosa")

RECORDING = shared_data() / "fsdd" / "recordings" / "0_george_10.wav"
# The defaults (8 kHz speech), and a 16 kHz set with a band limit, odd n_fft and top_db 60.
CONFIGS = {
    "default": FeatureConfig(),
    "16k": FeatureConfig(
        sample_rate=16000,
        n_fft=511,
        win_length=400,
        hop_length=160,
        n_mels=64,
        n_mfcc=20,
        fmin=20.0,
        fmax=7600.0,
        top_db=60.0,
    ),
    "no floor": FeatureConfig(n_mels=23, top_db=None),
}


def two_tones(seconds: float = 0.7, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1200 * t)


def librosa_mel_args(cfg: FeatureConfig) -> dict[str, Any]:
    args = {"sr": cfg.sample_rate, "n_fft": cfg.n_fft, "hop_length": cfg.hop_length}
    args.update(win_length=cfg.win_length, window="hann", center=True, pad_mode="constant")
    args.update(power=2.0, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=False)
    return {**args, "dtype": np.float64}  # librosa's filterbank is float32 unless asked


def librosa_log_mel(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(T, n_mels): the oracle for one utterance."""
    S = librosa.feature.melspectrogram(y=y, norm="slaney", **librosa_mel_args(cfg))
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=cfg.top_db).T


def librosa_mfcc(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(T, n_mfcc); librosa's mfcc floors the log-mel at its default top_db = 80."""
    assert cfg.top_db == 80.0
    args = librosa_mel_args(cfg)
    M = librosa.feature.mfcc(y=y, n_mfcc=cfg.n_mfcc, dct_type=2, norm="ortho", **args)
    return M.T


def one(y: np.ndarray, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of one: waves (1, N), lengths (1,)."""
    return torch.tensor(y, dtype=dtype)[None], torch.tensor([len(y)])


@pytest.mark.parametrize("name", CONFIGS)
def test_mel_filterbank_equals_librosa(name: str) -> None:
    cfg = CONFIGS[name]
    ours = mel_filterbank(cfg, dtype=torch.float64).numpy()
    ref = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax,
        htk=False, norm="slaney", dtype=np.float64,
    )  # fmt: skip
    assert ours.shape == (cfg.n_mels, cfg.n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 * ref.max())
    assert mel_filterbank(cfg).dtype == torch.float32


def test_slaney_mel_scale_equals_librosa_and_inverts() -> None:
    hz = torch.tensor([0.0, 100.0, 999.0, 1000.0, 1001.0, 3000.0, 8000.0], dtype=torch.float64)
    np.testing.assert_allclose(hz_to_mel(hz).numpy(), librosa.hz_to_mel(hz.numpy()), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)).numpy(), hz.numpy(), atol=1e-9)


def test_too_many_mel_bands_for_the_fft_is_an_error() -> None:
    with pytest.raises(RnnkitError, match="cover no FFT bin.*lower --n-mels"):
        mel_filterbank(FeatureConfig(n_fft=64, win_length=64, n_mels=80))


@pytest.mark.parametrize("name", CONFIGS)
def test_log_mel_of_two_tones_equals_librosa(name: str) -> None:
    cfg = CONFIGS[name]
    y = two_tones(rate=cfg.sample_rate)
    x, frames = log_mel(*one(y), cfg)
    ref = librosa_log_mel(y, cfg)
    assert x.shape == (1, *ref.shape) and frames.tolist() == [ref.shape[0]]
    np.testing.assert_allclose(x[0].numpy(), ref, rtol=0, atol=1e-6)  # dB, float64


def test_mfcc_of_two_tones_equals_librosa() -> None:
    cfg = FeatureConfig(kind="mfcc")
    y = two_tones()
    x, _ = mfcc(*one(y), cfg)
    ref = librosa_mfcc(y, cfg)
    assert x.shape == (1, *ref.shape) == (1, 71, 13)
    np.testing.assert_allclose(x[0].numpy(), ref, rtol=0, atol=1e-6)
    assert torch.equal(features(*one(y), cfg)[0], x)


def recording() -> np.ndarray:
    if not RECORDING.is_file():
        pytest.skip(f"{RECORDING} is not here (set RNNKIT_SHARED_DATA)")
    pytest.importorskip("soundfile")
    from rnnkit.data.audio import read_wav

    audio = read_wav(RECORDING, rate=8000)
    return audio.samples.double().numpy()


def test_features_of_a_real_recording_equal_librosa() -> None:
    y = recording()
    cfg = FeatureConfig()
    ref_mel, ref_mfcc = librosa_log_mel(y, cfg), librosa_mfcc(y, cfg)
    np.testing.assert_allclose(log_mel(*one(y), cfg)[0][0].numpy(), ref_mel, atol=1e-6)
    cfg = dataclasses.replace(cfg, kind="mfcc")
    np.testing.assert_allclose(features(*one(y), cfg)[0][0].numpy(), ref_mfcc, atol=1e-6)


@pytest.mark.parametrize("source", ["tones", "recording"])
def test_float32_stays_within_a_hundredth_of_a_db(source: str) -> None:
    """float32 waves give float32 features, within 0.005 dB of the float64 oracle (measured:
    5e-4 dB on the tones, 7e-5 dB on the recording)."""
    y = two_tones() if source == "tones" else recording()
    cfg = FeatureConfig()
    x, _ = log_mel(*one(y, torch.float32), cfg)
    assert x.dtype == torch.float32
    np.testing.assert_allclose(x[0].double().numpy(), librosa_log_mel(y, cfg), atol=5e-3)


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large:UserWarning")
@pytest.mark.parametrize("name", CONFIGS)
def test_frame_count_equals_librosa_even_below_one_window(name: str) -> None:
    cfg = CONFIGS[name]
    rng = np.random.default_rng(0)
    sizes = [1, 50, cfg.hop_length - 1, cfg.hop_length, cfg.hop_length + 1, cfg.win_length]
    sizes += [cfg.n_fft - 1, cfg.n_fft, cfg.n_fft + 1, 1000, 1001]
    for n in sizes:
        y = rng.standard_normal(n) * 0.1
        ref = librosa_log_mel(y, cfg)
        assert frame_count(n, cfg) == ref.shape[0], n
        x, frames = log_mel(*one(y), cfg)
        assert frames.tolist() == [ref.shape[0]] and x.shape[1] == ref.shape[0]
        np.testing.assert_allclose(x[0].numpy(), ref, atol=1e-6)
    if cfg.n_fft % 2 == 0:
        assert all(frame_count(n, cfg) == 1 + n // cfg.hop_length for n in sizes)
    assert frame_lengths(torch.tensor(sizes), cfg).tolist() == [frame_count(n, cfg) for n in sizes]


def padded_batch(clips: list[np.ndarray], garbage: float = 3.0) -> tuple[torch.Tensor, ...]:
    """(B, N) waves with `garbage` past each clip's end (it must be ignored), (B,) lengths."""
    N = max(len(c) for c in clips)
    waves = torch.full((len(clips), N), garbage, dtype=torch.float64)
    for b, c in enumerate(clips):
        waves[b, : len(c)] = torch.tensor(c)
    return waves, torch.tensor([len(c) for c in clips])


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_a_padded_batch_gives_each_clip_its_features_alone(kind: str) -> None:
    cfg = FeatureConfig(kind=kind)
    rng = np.random.default_rng(1)
    y = two_tones()
    clips = [y[:1234] * 0.01, y, rng.standard_normal(50) * 0.2, y[:3000] + 0.001]
    x, frames = features(*padded_batch(clips), cfg)
    assert frames.tolist() == [frame_count(len(c), cfg) for c in clips]
    assert x.shape == (4, frame_count(len(y), cfg), cfg.dim)
    for b, clip in enumerate(clips):
        alone, _ = features(*one(clip), cfg)
        L = int(frames[b])
        torch.testing.assert_close(x[b, :L], alone[0], rtol=0, atol=1e-9)
        assert not x[b, L:].any()  # padded frames are 0
        assert x[b, :L].abs().sum(dim=1).min() > 0  # ... and real frames are not


def test_extra_padding_is_trimmed_to_the_longest_clip() -> None:
    cfg = FeatureConfig()
    waves, lengths = padded_batch([two_tones()[:800], two_tones()[:400]])
    wider = torch.cat([waves, torch.zeros(2, 5000, dtype=waves.dtype)], dim=1)
    torch.testing.assert_close(log_mel(wider, lengths, cfg), log_mel(waves, lengths, cfg))
    assert log_mel(wider, lengths, cfg)[0].shape[1] == frame_count(800, cfg)


@pytest.mark.parametrize(
    "waves, lengths, expected",
    [
        (torch.zeros(100), torch.tensor([100]), "expected waves of shape (B, N)"),
        (torch.zeros(1, 100, dtype=torch.int16), torch.tensor([100]), "float32 or float64"),
        (torch.zeros(2, 100), torch.tensor([100]), "expected integer lengths of shape (2,)"),
        (torch.zeros(1, 100), torch.tensor([100.0]), "expected integer lengths"),
        (torch.zeros(1, 100), torch.tensor([101]), "lengths must be in [1, N=100]"),
        (torch.zeros(1, 100), torch.tensor([0]), "lengths must be in [1, N=100]"),
    ],
)
def test_bad_waves_are_refused(waves: torch.Tensor, lengths: torch.Tensor, expected: str) -> None:
    with pytest.raises(RnnkitError) as caught:
        log_mel(waves, lengths, FeatureConfig())
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    "change, flag",
    [
        ({"kind": "fbank"}, "--kind (FeatureConfig.kind) must be one of logmel, mfcc"),
        ({"sample_rate": 0}, "--sample-rate"),
        ({"n_fft": 2.5}, "--n-fft"),
        ({"hop_length": True}, "--hop-length"),
        ({"win_length": 300}, "--win-length (FeatureConfig.win_length) must be <= n_fft"),
        ({"n_mfcc": 41}, "--n-mfcc"),
        ({"fmin": -1.0}, "--fmin"),
        ({"fmin": 4000.0}, "--fmin"),
        ({"fmax": 4001.0}, "--fmax"),
        ({"fmin": 300.0, "fmax": 300.0}, "--fmax"),
        ({"top_db": -1.0}, "--top-db"),
        ({"top_db": float("nan")}, "--top-db"),
    ],
)
def test_config_checks_name_the_option(change: dict[str, Any], flag: str) -> None:
    with pytest.raises(RnnkitError, match="^" + flag.replace("(", r"\(").replace(")", r"\)")):
        FeatureConfig(**change)


def test_config_dim_and_json_round_trip() -> None:
    assert FeatureConfig().dim == 40 and FeatureConfig(kind="mfcc").dim == 13
    assert FeatureConfig().fmax_hz == 4000.0
    for cfg in CONFIGS.values():
        assert from_dict(FeatureConfig, json.loads(json.dumps(to_dict(cfg)))) == cfg


def logmel_batch(seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    clips = [two_tones()[: int(n)] * rng.uniform(0.1, 1) for n in rng.integers(100, 5600, 5)]
    return log_mel(*padded_batch(clips), FeatureConfig())


def real_frames(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(sum of lengths, D): the real frames of a padded batch, one after the other."""
    return torch.cat([x[b, : int(n)] for b, n in enumerate(lengths)])


def test_stats_are_over_real_frames_and_do_not_depend_on_batching() -> None:
    x, lengths = logmel_batch()
    frames = real_frames(x, lengths)
    stats = FeatureStats.fit([(x, lengths)])
    torch.testing.assert_close(stats.mean, frames.mean(dim=0))
    torch.testing.assert_close(stats.std, frames.std(dim=0, unbiased=False))
    wider = torch.cat([x, torch.full((5, 30, 40), float("nan"), dtype=x.dtype)], dim=1)
    split = [(wider[:2], lengths[:2]), (x[:0], lengths[:0]), (wider[2:], lengths[2:])]
    again = FeatureStats.fit(split)  # other padding, an empty batch, and merged batches
    torch.testing.assert_close(again.mean, stats.mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(again.std, stats.std, rtol=1e-12, atol=1e-12)


def test_stats_apply_normalises_real_frames_and_keeps_padding_zero() -> None:
    x, lengths = logmel_batch()
    stats = FeatureStats.fit([(x, lengths)])
    y = stats.apply(x.float().masked_fill(x == 0, float("inf")), lengths)
    assert y.dtype == torch.float32
    frames = real_frames(y, lengths).double()
    assert frames.mean(dim=0).abs().max() < 1e-5
    assert (frames.std(dim=0, unbiased=False) - 1).abs().max() < 1e-5
    for b, n in enumerate(lengths):
        assert not y[b, int(n) :].any()
    with pytest.raises(RnnkitError, match=r"expected features \(B, T, 40\)"):
        stats.apply(x[..., :13], lengths)


def test_stats_json_round_trip_and_a_constant_feature() -> None:
    x, lengths = logmel_batch()
    x[..., 3] = -7.0  # constant: std floored at eps, normalised to 0
    stats = FeatureStats.fit([(x, lengths)], eps=1e-5)
    assert stats.std[3] == 1e-5
    assert not stats.apply(x, lengths)[..., 3].any()
    back = FeatureStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert torch.equal(back.mean, stats.mean) and torch.equal(back.std, stats.std)
    assert all(isinstance(v, float) for v in stats.to_dict()["mean"])


@pytest.mark.parametrize(
    "data",
    [{"mean": [0.0]}, {"mean": [0.0], "std": ["1"]}, {"mean": [0.0], "std": [0.0]},
     {"mean": [0.0, 1.0], "std": [1.0]}, {"mean": [float("nan")], "std": [1.0]}, []],
)  # fmt: skip
def test_stats_from_a_bad_dict_are_refused(data: Any) -> None:
    with pytest.raises(RnnkitError, match="FeatureStats"):
        FeatureStats.from_dict(data)


def test_stats_fit_refuses_no_frames_and_mixed_sizes() -> None:
    with pytest.raises(RnnkitError, match="no frames"):
        FeatureStats.fit([])
    x, lengths = logmel_batch()
    with pytest.raises(RnnkitError, match="13 features per frame, the first had 40"):
        FeatureStats.fit([(x, lengths), (x[..., :13], lengths)])


def test_per_utterance_normalisation_is_each_clip_by_itself() -> None:
    x, lengths = logmel_batch()
    x = x.masked_fill(x == 0, float("nan"))  # padding holding NaN must not leak
    y = per_utterance_normalize(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        own = y[b, :n]
        assert own.mean(dim=0).abs().max() < 1e-9
        assert (own.std(dim=0, unbiased=False) - 1).abs().max() < 1e-6
        assert not y[b, n:].any()
        torch.testing.assert_close(
            per_utterance_normalize(x[b : b + 1, :n], lengths[b : b + 1])[0], own
        )


def masked(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, T, D) bool: where spec_augment zeroed a non-zero input."""
    return (y == 0) & (x != 0)


def augment_input() -> tuple[torch.Tensor, torch.Tensor]:
    """(4, 50, 16) non-zero real frames (lengths 50, 30, 5, 1), zero padding."""
    lengths = torch.tensor([50, 30, 5, 1])
    x = torch.rand(4, 50, 16, generator=torch.Generator().manual_seed(0)) + 1.0
    return x * (torch.arange(50)[None, :, None] < lengths[:, None, None]), lengths


def test_spec_augment_masks_whole_frames_and_bands_inside_real_frames() -> None:
    x, lengths = augment_input()
    before = x.clone()
    for seed in range(50):
        g = torch.Generator().manual_seed(seed)
        y = spec_augment(
            x, lengths, time_masks=2, time_width=10, freq_masks=2, freq_width=8, generator=g
        )
        assert torch.equal(x, before)  # the input is left alone
        hit = masked(y, x)
        assert torch.equal(y[~hit], x[~hit])  # only zeroes
        pad = (x == 0).all(dim=2)  # (B, T)
        bands = (hit | pad[:, :, None]).all(dim=1)  # (B, D) features zeroed in all real frames
        rows = hit.all(dim=2)  # (B, T) frames zeroed in every feature
        assert torch.equal(hit, (rows[:, :, None] | bands[:, None, :]) & ~pad[:, :, None])
        for b, n in enumerate(lengths.tolist()):
            assert int(rows[b].sum()) <= 2 * 10
            assert rows[b, :n].all() or int(bands[b].sum()) <= 2 * 8


def test_spec_augment_widths_cover_zero_to_width_and_short_clips_get_masked() -> None:
    x, lengths = augment_input()
    widths, short_hits = set(), 0
    for seed in range(300):
        g = torch.Generator().manual_seed(seed)
        y = spec_augment(x, lengths, time_masks=1, time_width=10, freq_masks=0, generator=g)
        rows = masked(y, x).all(dim=2)  # (B, T)
        widths.add(int(rows[0].sum()))
        short_hits += bool(rows[2].any())
        assert int(rows[3].sum()) <= 1
    assert widths == set(range(11))  # uniform in [0, 10], both ends included
    assert short_hits > 0.7 * 300  # a 5-frame clip is masked unless its width is 0 (1 in 6)


def test_spec_augment_is_reproducible_with_a_seeded_generator() -> None:
    x, lengths = augment_input()

    def run(seed: int) -> torch.Tensor:
        return spec_augment(x, lengths, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))
    off = spec_augment(x, lengths, time_masks=0, freq_masks=0)
    assert torch.equal(off, x) and off is not x
    with pytest.raises(RnnkitError, match="time_width must be an integer >= 0, got -1"):
        spec_augment(x, lengths, time_width=-1)


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_stack_frames_concatenates_k_frames_and_pads_the_tail(k: int) -> None:
    x, lengths = augment_input()  # T = 50, D = 16
    garbage = x.masked_fill(x == 0, float("nan"))  # padding must not leak into the stacks
    y, stacked = stack_frames(garbage, lengths, k)
    S = -(-50 // k)
    assert y.shape == (4, S, k * 16)
    assert stacked.tolist() == [-(-n // k) for n in lengths.tolist()]
    for b, n in enumerate(lengths.tolist()):
        for t in range(S * k):
            frame = y[b, t // k, (t % k) * 16 : (t % k + 1) * 16]
            assert torch.equal(frame, x[b, t] if t < n else torch.zeros(16)), (b, t)
        alone, _ = stack_frames(x[b : b + 1, :n], lengths[b : b + 1], k)
        assert torch.equal(alone[0], y[b, : alone.shape[1]])
    with pytest.raises(RnnkitError, match="k must be an integer >= 1"):
        stack_frames(x, lengths, 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_features_on_the_gpu_equal_the_cpu() -> None:
    cfg = FeatureConfig(kind="mfcc")
    waves, lengths = padded_batch([two_tones(), two_tones()[:999]])
    x, frames = features(waves, lengths, cfg)
    xg, framesg = features(waves.cuda(), lengths.cuda(), cfg)
    assert xg.device.type == "cuda" and torch.equal(framesg.cpu(), frames)
    torch.testing.assert_close(xg.cpu(), x, rtol=0, atol=1e-6)
    stats = FeatureStats.fit([(xg, framesg)])
    y = spec_augment(stats.apply(xg, framesg), framesg, generator=torch.Generator("cuda"))
    assert stack_frames(per_utterance_normalize(y, framesg), framesg, 3)[0].device.type == "cuda"


def test_stats_compare_by_identity_not_by_an_ambiguous_tensor_truth() -> None:
    stats = FeatureStats(mean=torch.zeros(3), std=torch.ones(3))
    assert stats != FeatureStats(mean=torch.zeros(3), std=torch.ones(3))  # does not raise
    assert len({stats, stats}) == 1
