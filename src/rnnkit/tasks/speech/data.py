"""The speech task's examples and batches: single recordings with their digit (many-to-one),
and spoken digit strings with their transcript (CTC), built fresh for every training epoch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import Tensor

from rnnkit.data.audio import read_wav
from rnnkit.data.batch import Batch
from rnnkit.data.batching import BucketBatcher, make_batch
from rnnkit.data.digit_strings import DigitStringSpec, make_digit_strings
from rnnkit.data.features import spec_augment
from rnnkit.data.fsdd import Recording
from rnnkit.tasks.speech.config import SpeechDataConfig
from rnnkit.tasks.speech.pipeline import SpeechPipeline

DEV_SEED = 1  # the fixed dev strings
EVAL_BATCH_SIZE = 64
Example = tuple[Tensor, Tensor]  # (T, D) frames, and a label () or a transcript (S,)


def read_recordings(recordings: Sequence[Recording], rate: int) -> list[Tensor]:
    """Each recording's samples at `rate` (resampled, with a logged note, where it differs)."""
    return [read_wav(r.path, rate).samples for r in recordings]


def augmenter(config: SpeechDataConfig, seed: int) -> Callable[[Tensor, Tensor, int], Tensor]:
    """`augment(x, lengths, key)`: SpecAugment of a padded batch of frames, reproducible from
    (seed, key); the identity when the config asks for no masks."""

    def augment(x: Tensor, lengths: Tensor, key: int) -> Tensor:
        if config.time_masks == 0 and config.freq_masks == 0:
            return x
        generator = torch.Generator().manual_seed(seed * 1_000_003 + key)
        return spec_augment(
            x,
            lengths,
            time_masks=config.time_masks,
            time_width=config.time_width,
            freq_masks=config.freq_masks,
            freq_width=config.freq_width,
            generator=generator,
        )

    return augment


def digit_batches(
    frames: Sequence[Tensor],
    labels: Sequence[int],
    batch_size: int,
    seed: int,
    augment: Callable[[Tensor, Tensor, int], Tensor] | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Callable[[int], list[Batch]]:
    """`batches(epoch)`: recordings' frames bucketed by length, shuffled per epoch from `seed`,
    this rank's share; targets (B,) digits; SpecAugment when `augment` is given."""
    batcher = BucketBatcher(
        [len(f) for f in frames], batch_size, shuffle=augment is not None, seed=seed,
        rank=rank, world_size=world_size,
    )  # fmt: skip

    def batches(epoch: int) -> list[Batch]:
        out = []
        for n, indices in enumerate(batcher.batches(epoch)):
            batch = make_batch(
                [frames[i] for i in indices], torch.tensor([labels[i] for i in indices])
            )
            if augment is not None:
                batch = replace(
                    batch, inputs=augment(batch.inputs, batch.lengths, epoch * 100_000 + n)
                )
            out.append(batch)
        return out

    return batches


def string_batch(frames: Sequence[Tensor], transcripts: Sequence[Tensor]) -> Batch:
    """Frames (T_b, D) and transcripts (S_b,) of CTC class ids -> a Batch with targets (B, S)
    padded with 0 and extras["target_lengths"] (B,)."""
    batch = make_batch(list(frames))
    targets = torch.nn.utils.rnn.pad_sequence(list(transcripts), batch_first=True)  # (B, S)
    lengths = torch.tensor([len(t) for t in transcripts])
    return replace(batch, targets=targets, extras={"target_lengths": lengths})


def make_strings(
    clips: dict[int, list[Tensor]], count: int, config: SpeechDataConfig, rate: int, seed: int
) -> tuple[list[Tensor], list[list[int]]]:
    """`count` spoken digit strings (samples, digits) from `clips` (digit -> recordings)."""
    spec = DigitStringSpec(
        min_digits=config.min_digits,
        max_digits=config.max_digits,
        min_gap_s=config.min_gap_s,
        max_gap_s=config.max_gap_s,
        snr_db=config.snr_db,
        seed=seed,
    )
    strings = make_digit_strings(clips, count, spec, rate)
    return [s.samples for s in strings], [s.digits for s in strings]


def ctc_examples(
    pipeline: SpeechPipeline, waves: Sequence[Tensor], digits: Sequence[list[int]]
) -> list[Example]:
    """(frames, transcript) per string; the transcript in CTC classes (digit d -> d + 1)."""
    frames = pipeline.frames_each(waves)
    return [(x, torch.tensor(d) + 1) for x, d in zip(frames, digits, strict=True)]


def fixed_string_batches(
    pipeline: SpeechPipeline, clips: dict[int, list[Tensor]], config: SpeechDataConfig
) -> list[Batch]:
    """`config.dev_strings` strings from `clips`, always the same ones (seed DEV_SEED), in
    batches of EVAL_BATCH_SIZE: the dev split of the CTC preset, and what `evaluate` scores."""
    waves, digits = make_strings(
        clips, config.dev_strings, config, pipeline.features.sample_rate, DEV_SEED
    )
    examples = ctc_examples(pipeline, waves, digits)
    return [
        string_batch([x for x, _ in chunk], [y for _, y in chunk])
        for chunk in (
            examples[s : s + EVAL_BATCH_SIZE] for s in range(0, len(examples), EVAL_BATCH_SIZE)
        )
    ]


def string_batches(
    pipeline: SpeechPipeline,
    clips: dict[int, list[Tensor]],
    config: SpeechDataConfig,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
) -> Callable[[int], list[Batch]]:
    """`batches(epoch)`: `config.train_strings` new strings for each epoch (from seed and
    epoch: the same epoch gives the same strings), bucketed by length, shuffled, this rank's
    share, with SpecAugment."""
    augment = augmenter(config, seed)

    def batches(epoch: int) -> list[Batch]:
        waves, digits = make_strings(
            clips, config.train_strings, config, pipeline.features.sample_rate, seed * 7919 + epoch
        )
        examples = ctc_examples(pipeline, waves, digits)
        batcher = BucketBatcher(
            [len(x) for x, _ in examples], batch_size, seed=seed, rank=rank, world_size=world_size
        )
        out = []
        for n, indices in enumerate(batcher.batches(epoch)):
            batch = string_batch(
                [examples[i][0] for i in indices], [examples[i][1] for i in indices]
            )
            out.append(
                replace(batch, inputs=augment(batch.inputs, batch.lengths, epoch * 100_000 + n))
            )
        return out

    return batches


def by_digit(waves: Sequence[Tensor], labels: Sequence[int]) -> dict[int, list[Tensor]]:
    """The recordings of each digit, in their given order."""
    clips: dict[int, list[Tensor]] = {d: [] for d in range(10)}
    for w, d in zip(waves, labels, strict=True):
        clips[d].append(w)
    return clips
