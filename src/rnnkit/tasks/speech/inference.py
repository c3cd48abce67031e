"""Transcribing recordings with a trained speech model, and the picture of what it heard:
the log-mel spectrogram with the CTC posteriors (or the recognised digit) under it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.atomic import atomic_write
from rnnkit.data.audio import read_wav
from rnnkit.data.features import features
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.ctc import ctc_greedy, ctc_prefix_beam
from rnnkit.models.ctc_recognizer import BLANK, CTCRecognizer
from rnnkit.tasks.recipe import TrainedModel
from rnnkit.tasks.speech import load
from rnnkit.tasks.speech.config import SpeechDataConfig
from rnnkit.tasks.speech.pipeline import SpeechPipeline

LIST_SUFFIXES = (".txt", ".lst", ".list")
BATCH = 32


@dataclass(frozen=True)
class Transcript:
    """What was heard in one file: `text` (symbols joined by spaces), each symbol's `times`
    (seconds from the start, where CTC emits it; empty for the digit classifier), and `score`
    (the classifier's probability of its digit; CTC: the log-probability of the transcript,
    summed over its alignments for beam search, of the best path for greedy decoding)."""

    path: str
    text: str
    symbols: list[str]
    times: list[float] = field(default_factory=list)
    score: float = 0.0


def expand_inputs(items: Sequence[str | Path]) -> list[Path]:
    """The WAV files named by `items`: a file itself, every *.wav of a folder (sorted), or each
    line of a list file (.txt, .lst, .list; blank lines and # comments skipped; relative paths
    from the list's folder)."""
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".wav")
            if not found:
                raise RnnkitError(f"{path}: no .wav files in this folder")
            out += found
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            names = [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]
            out += [(path.parent / n) if not Path(n).is_absolute() else Path(n) for n in names]
        elif path.exists():
            out.append(path)
        else:
            raise RnnkitError(f"{path}: no such file or folder")
    if not out:
        raise RnnkitError("no recordings to transcribe")
    return out


class Transcriber(
    TrainedModel[SequenceClassifier | CTCRecognizer, SpeechPipeline, SpeechDataConfig]
):
    """A trained speech model loaded once, ready for many files.

    >>> Transcriber("runs/speech-ctc/best", beam=8).transcribe(["4071.wav"])  # doctest: +SKIP
    [Transcript(path='4071.wav', text='4 0 7 1', symbols=['4', '0', '7', '1'], times=[...])]
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu", beam: int = 1):
        super().__init__(load(checkpoint), checkpoint, device)
        if beam < 1:
            raise RnnkitError(f"--beam must be at least 1, got {beam}")
        self.beam = beam

    @property
    def seconds_per_output_frame(self) -> float:
        f = self.pipeline.features
        k = self.model.config.subsample if isinstance(self.model, CTCRecognizer) else 1
        return k * f.hop_length / f.sample_rate

    def read(self, path: str | Path) -> Tensor:
        """A file's samples at the model's rate (resampled, with a logged note, if need be)."""
        return read_wav(path, self.pipeline.features.sample_rate).samples

    def outputs(self, waves: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """The model's outputs for B recordings: CTC log-probabilities (B, T', C) with their
        frame counts, or the classifier's logits (B, 10) with ones."""
        x, lengths = self.pipeline.frames(waves)
        with torch.no_grad():
            out = self.model(x.to(self.device), lengths.to(self.device))
        if isinstance(self.model, CTCRecognizer):
            return out.logits.cpu(), self.model.output_lengths(lengths)
        return out.logits.cpu(), torch.ones(len(waves), dtype=torch.int64)

    def transcribe(self, paths: Sequence[str | Path]) -> list[Transcript]:
        """One Transcript per file, in order."""
        out: list[Transcript] = []
        for start in range(0, len(paths), BATCH):
            chunk = list(paths[start : start + BATCH])
            scores, lengths = self.outputs([self.read(p) for p in chunk])
            out += self._transcripts(chunk, scores, lengths)
        return out

    def _transcripts(
        self, paths: Sequence[str | Path], scores: Tensor, lengths: Tensor
    ) -> list[Transcript]:
        symbols = self.pipeline.symbols
        if isinstance(self.model, SequenceClassifier):
            p = torch.softmax(scores, dim=-1)  # (B, 10)
            best = p.argmax(-1)
            return [
                Transcript(str(path), symbols[int(c)], [symbols[int(c)]], [], float(p[b, c]))
                for b, (path, c) in enumerate(zip(paths, best, strict=True))
            ]
        if self.beam > 1:
            found = ctc_prefix_beam(scores, lengths, self.beam, blank=BLANK)
        else:
            found = ctc_greedy(scores, lengths, blank=BLANK)
        step = self.seconds_per_output_frame
        out = []
        for path, hyp in zip(paths, found, strict=True):
            written = [symbols[c - 1] for c in hyp.labels]
            times = [round(f * step, 3) for f in hyp.frames]
            out.append(Transcript(str(path), " ".join(written), written, times, hyp.score))
        return out

    def plot(self, path: str | Path, png: str | Path) -> Transcript:
        """Transcribe one file and draw it: its log-mel spectrogram, and under it the CTC
        posteriors of each symbol and the blank over time (or the classifier's answer)."""
        wave = self.read(path)
        scores, lengths = self.outputs([wave])
        transcript = self._transcripts([path], scores, lengths)[0]
        shown = replace(self.pipeline.features, kind="logmel")
        mel, _ = features(wave[None], torch.tensor([len(wave)]), shown)  # (1, T, n_mels)
        posteriors = scores[0].exp() if isinstance(self.model, CTCRecognizer) else None
        frame_s = shown.hop_length / shown.sample_rate
        step_s = self.seconds_per_output_frame
        draw_transcript(
            Path(png), mel[0], posteriors, transcript, frame_s, step_s, self.pipeline.symbols
        )
        return transcript


def draw_transcript(
    png: Path,
    mel: Tensor,
    posteriors: Tensor | None,
    transcript: Transcript,
    frame_s: float,
    output_frame_s: float,
    symbols: str,
) -> None:
    """The PNG of `Transcriber.plot`: mel (T, n_mels) in dB; posteriors (T', C), blank first."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    seconds = mel.shape[0] * frame_s
    rows = 2 if posteriors is not None else 1
    fig = Figure(figsize=(max(6.0, min(seconds * 4, 20.0)), 2.6 * rows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].imshow(mel.T.numpy(), aspect="auto", origin="lower", cmap="magma",
                   extent=(0, seconds, 0, mel.shape[1]))  # fmt: skip
    axes[0].set_ylabel("mel band")
    fig.suptitle(f"{Path(transcript.path).name}: {transcript.text or '(nothing)'}")
    if posteriors is not None:
        ax = axes[1]
        t = (torch.arange(posteriors.shape[0]) + 0.5) * output_frame_s
        ax.plot(t, posteriors[:, BLANK], color="0.75", lw=1, label="blank")
        colors = [f"C{i}" for i in range(10)]
        for c in range(1, posteriors.shape[1]):
            ax.plot(t, posteriors[:, c], color=colors[(c - 1) % 10], lw=1.4, label=symbols[c - 1])
        for s, when in zip(transcript.symbols, transcript.times, strict=True):
            ax.annotate(
                s, (when + output_frame_s / 2, 1.02), ha="center", fontsize=12, weight="bold"
            )
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("P(symbol | frame)")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    with atomic_write(png) as f:
        fig.savefig(f, format="png")
