"""Tiny trained models for the serve tests: a sentiment classifier ("good" -> pos, "bad" ->
neg), an NER tagger (the people, places and organisations of tests/ner_data.py), a
character text model (one epoch of tests/test_text_task.py's text) and a French-English
translator (three epochs of tests/test_recipes.py's pairs: its translations are poor, and
the tests compare the server's with the library's), a chorale model (tests/test_music_task.py's
tiny JSB files) and a spoken-digit classifier (one epoch of tests/speech_data.py's chords)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ner_data import TINY as NER_TINY
from ner_data import sentences, write_conll
from speech_data import write_recordings
from test_music_task import TINY as MUSIC_TINY
from test_music_task import write_jsb
from test_recipes import PAIRS
from test_sentiment_task import TINY_ARGS, tiny_reviews, write_tsv
from test_text_task import TINY as TEXT_TINY
from test_text_task import TINY_TEXT
from test_translate_task import TINY as TRANSLATE_TINY

from rnnkit.cli import main


class Checkpoints(NamedTuple):
    sentiment: Path
    ner: Path
    text: Path
    translate: Path
    music: Path
    speech: Path


def train_tiny_models(root: Path) -> Checkpoints:
    """The tiny models' checkpoints, trained through the CLI under root."""
    reviews = write_tsv(root / "reviews.tsv", tiny_reviews(80, seed=1))
    args = ["--data", str(reviews), "--out", str(root / "imdb"), *TINY_ARGS, "--metric", "loss"]
    assert main(["train", "sentiment", *args]) == 0
    train = write_conll(root / "train.conll", sentences(24, seed=10))
    dev = write_conll(root / "dev.conll", sentences(8, seed=11))
    args = ["--train-file", str(train), "--dev-file", str(dev), "--out", str(root / "people")]
    assert main(["train", "ner", *args, *NER_TINY]) == 0
    text = root / "tiny.txt"
    text.write_text(TINY_TEXT, encoding="utf-8")
    tiny = [*TEXT_TINY[: TEXT_TINY.index("--epochs")], "--epochs", "1", "--quiet"]
    assert main(["train", "text", "--data", str(text), "--out", str(root / "chars"), *tiny]) == 0
    pairs = root / "pairs.txt"
    pairs.write_text("".join(f"{en}\t{fr}\n" for en, fr in PAIRS * 10), encoding="utf-8")
    args = ["--data", str(pairs), "--epochs", "3", "--out", str(root / "fr-en")]
    assert main(["train", "translate", *args, *TRANSLATE_TINY]) == 0
    args = ["--data", str(write_jsb(root / "jsb")), "--out", str(root / "chorales")]
    assert main(["train", "music", *args, *MUSIC_TINY]) == 0
    args = ["--data", str(write_recordings(root / "recordings")), "--out", str(root / "digits")]
    speech = ["--hidden-size", "16", "--num-layers", "1", "--epochs", "1", "--quiet"]
    assert main(["train", "speech", *args, *speech]) == 0
    runs = ("imdb", "people", "chars", "fr-en", "chorales", "digits")
    return Checkpoints(*(root / run / "best" for run in runs))
