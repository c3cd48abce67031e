"""Tiny trained models for the serve tests: a sentiment classifier ("good" -> pos, "bad" ->
neg), an NER tagger (the people, places and organisations of tests/ner_data.py) and a
character text model (one epoch of tests/test_text_task.py's text)."""

from __future__ import annotations

from pathlib import Path

from ner_data import TINY as NER_TINY
from ner_data import sentences, write_conll
from test_sentiment_task import TINY_ARGS, tiny_reviews, write_tsv
from test_text_task import TINY as TEXT_TINY
from test_text_task import TINY_TEXT

from rnnkit.cli import main


def train_tiny_models(root: Path) -> tuple[Path, Path, Path]:
    """(sentiment, NER, text) checkpoints, trained through the CLI under root."""
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
    return root / "imdb" / "best", root / "people" / "best", root / "chars" / "best"
