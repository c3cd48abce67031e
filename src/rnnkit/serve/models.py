"""The models a server holds: each checkpoint loaded once, named, with the task it was made
for deciding its endpoints."""

from __future__ import annotations

import base64
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import load_checkpoint

# The tasks a server can serve, and the endpoint (POST /v1/NAME/ENDPOINT) each one gets.
ENDPOINTS = {
    "sentiment": "classify",
    "ner": "tag",
    "translate": "translate",
    "text": "generate",
    "music": "compose",
    "speech": "transcribe",
}
# Model names are path segments of the URLs.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# texts -> one JSON-able result per text
BatchFunction = Callable[[list[str]], list[dict[str, Any]]]
# (prime, length, temperature, top_k, seed) -> the sampled text, a character at a time; the
# options are checked (RnnkitError) when it is called, before the first character is drawn
StreamFunction = Callable[[str, int, float, "int | None", int], Iterator[str]]
# (steps, temperature, top_k, seed) -> {"steps": MIDI pitches per step, "midi": base64 MIDI
# file, "piano_roll": base64 PNG}
ComposeFunction = Callable[[int, float, "int | None", int], dict[str, Any]]
# a WAV file's bytes -> {"text", "symbols", "times", "score"}
TranscribeFunction = Callable[[bytes], dict[str, Any]]


@dataclass
class ServedModel:
    """One loaded model. Classifiers and taggers have `run` (many texts in, one result each,
    batched across requests); text generators have `stream` (one request, its text streamed);
    music models have `compose` (one request, one piece); speech models have `transcribe`
    (one WAV file a request)."""

    name: str  # the URL segment: /v1/NAME/...
    task: str  # the recipe that made the checkpoint: a key of ENDPOINTS
    checkpoint: str  # where it was loaded from
    run: BatchFunction | None = None
    stream: StreamFunction | None = None
    compose: ComposeFunction | None = None
    transcribe: TranscribeFunction | None = None
    labels: list[str] = field(default_factory=list)  # class names, for classifiers

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self.task]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "task": self.task,
            "checkpoint": self.checkpoint,
            "endpoint": f"/v1/{self.name}/{self.endpoint}",
        }
        if self.labels:
            out["labels"] = self.labels
        return out


def parse_spec(spec: str) -> tuple[str, str]:
    """'NAME=PATH' -> (NAME, PATH); a bare PATH is named after its folder (after the run's
    folder for a run's `best` or `last` checkpoint: runs/imdb/best -> imdb)."""
    name, sep, path = spec.partition("=")
    if not sep:
        path = spec
        folder = Path(spec.rstrip("/"))
        name = folder.parent.name if folder.name in ("best", "last") else folder.name
    if not path:
        raise RnnkitError(f"--checkpoint {spec!r}: no path; give PATH or NAME=PATH")
    if not NAME_PATTERN.match(name):
        raise RnnkitError(
            f"--checkpoint {spec!r}: model name {name!r} must be letters, digits, '_', '.' or "
            "'-' (it is part of the URLs); give one with NAME=PATH"
        )
    return name, path


def load_models(specs: Sequence[str], device: str | torch.device = "cpu") -> list[ServedModel]:
    """Load every checkpoint of `specs` ('PATH' or 'NAME=PATH'); RnnkitError for a missing
    checkpoint, a task the server has no endpoint for, or two models of one name."""
    models: list[ServedModel] = []
    for spec in specs:
        name, path = parse_spec(spec)
        if any(m.name == name for m in models):
            raise RnnkitError(
                f"--checkpoint {spec!r}: a second model named {name!r}; name them with NAME=PATH"
            )
        task = load_checkpoint(path).meta.task
        if task not in ENDPOINTS:
            raise RnnkitError(
                f"--checkpoint {path}: a {task!r} model; the server serves "
                + ", ".join(sorted(ENDPOINTS))
                + " models"
            )
        models.append(_load(name, task, path, device))
    return models


def _load(name: str, task: str, path: str, device: str | torch.device) -> ServedModel:
    if task == "sentiment":
        from rnnkit.tasks.sentiment import SentimentClassifier

        classifier = SentimentClassifier(path, device)
        labels = list(classifier.pipeline.labels.names)

        def classify(texts: list[str]) -> list[dict[str, Any]]:
            return [_classified(labels, *r) for r in classifier.predict(texts)]

        return ServedModel(name, task, path, run=classify, labels=labels)
    if task == "ner":
        from rnnkit.tasks.ner.tagging import NERTagger

        tagger = NERTagger(path, device)

        def tag(texts: list[str]) -> list[dict[str, Any]]:
            return [tagged.to_json() for tagged in tagger.tag_texts(texts)]

        return ServedModel(name, task, path, run=tag)
    if task == "translate":
        from rnnkit.tasks.translate.inference import Translator

        translator = Translator(path, device)

        def translate(texts: list[str]) -> list[dict[str, Any]]:
            return [{"translation": t} for t in translator.translate(texts)]

        return ServedModel(name, task, path, run=translate)
    if task == "music":
        return ServedModel(name, task, path, compose=_composer(path, device))
    if task == "speech":
        return ServedModel(name, task, path, transcribe=_transcriber(path, device))
    from rnnkit.tasks.text import TextGenerator

    return ServedModel(name, task, path, stream=TextGenerator(path, device).stream)


def _classified(labels: list[str], label: str, probability: float) -> dict[str, Any]:
    """The answer for one text: its label, that label's probability and every label's (the
    two-class model gives P(pos); the other label has 1 - P)."""
    probabilities = {name: probability if name == label else 1.0 - probability for name in labels}
    return {"label": label, "probability": probability, "probabilities": probabilities}


def _composer(path: str, device: str | torch.device) -> ComposeFunction:
    """A piece as `rnnkit generate music` writes it (MIDI file and piano roll), read back
    from a temporary folder. The checkpoint is read once here to check it, and again by each
    piece (`rnnkit.tasks.music.generate` loads it)."""
    from rnnkit.tasks import music

    music.load(path)

    def compose(steps: int, temperature: float, top_k: int | None, seed: int) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
            midi, png = Path(folder) / "piece.mid", Path(folder) / "piece.png"
            piece = music.generate(path, steps, midi, temperature, top_k, seed, png, device=device)
            return {
                "steps": piece,
                "midi": base64.b64encode(midi.read_bytes()).decode("ascii"),
                "piano_roll": base64.b64encode(png.read_bytes()).decode("ascii"),
            }

    return compose


def _transcriber(path: str, device: str | torch.device) -> TranscribeFunction:
    """What a speech model hears in a WAV file (written to a temporary file for the reader)."""
    from rnnkit.tasks.speech.inference import Transcriber

    transcriber = Transcriber(path, device)

    def transcribe(wav: bytes) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
            file = Path(folder) / "upload.wav"
            file.write_bytes(wav)
            try:
                heard = transcriber.transcribe([file])[0]
            except RnnkitError as e:  # name the upload, not the server's temporary file
                raise RnnkitError(str(e).replace(str(file), "the uploaded WAV")) from None
        return {
            "text": heard.text,
            "symbols": heard.symbols,
            "times": heard.times,
            "score": heard.score,
        }

    return transcribe
