"""Inference speed of `predict sentiment` and `tag` (text input): examples per second.

Models of the presets' sizes, each trained for one epoch on a small synthetic set (the weights
do not change the work, and the recipes build their vocabularies from data: the synthetic
words fill the sentiment vocabulary to its max_words), then run on synthetic text:

  sentiment   --reviews reviews of 100-300 words (IMDB's are about 230), the texts of
              `predict sentiment --input FILE`
  ner         --sentences sentences of 8-30 words, the lines of `tag --input FILE --format text`

Two ways for each, side by side:

  whole       the list at once: `SentimentClassifier.predict` / `NERTagger.tag_texts`
  streamed    chunks of CHUNK_LINES lines (`predict_chunks` / `tag_chunks`), what the command
              line now runs on a file or standard input: bounded memory, output at once

    python benchmarks/inference.py                  # the default presets, 1 thread
    python benchmarks/inference.py --sentiment-preset bilstm --threads 2
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import markdown_table

from rnnkit.tasks import ner
from rnnkit.tasks import sentiment as S

NAMES = ["Harry", "Hermione", "Ron", "Albus", "Minerva", "London", "Paris", "Hogwarts"]


def words(n: int, rng: random.Random) -> list[str]:
    """n distinct made-up lowercase words."""
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))))
    return sorted(out)


def reviews(n: int, vocab: list[str], rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(vocab, k=rng.randint(100, 300))) + "." for _ in range(n)]


def sentences(n: int, vocab: list[str], rng: random.Random) -> list[list[tuple[str, str]]]:
    """Sentences of (token, BIO tag): ordinary words, and now and then a PER name."""
    out = []
    for _ in range(n):
        sentence = [(w, "O") for w in rng.choices(vocab, k=rng.randint(8, 30))]
        sentence.insert(rng.randrange(len(sentence)), (rng.choice(NAMES), "B-PER"))
        out.append(sentence)
    return out


def sentiment_model(preset: str, folder: Path, rng: random.Random) -> S.SentimentClassifier:
    config = S.PRESETS[preset]
    vocab = words(config.data.max_words, rng)
    data = folder / "reviews.tsv"
    texts = reviews(400, vocab, rng) + [
        " ".join(vocab[i : i + 50]) for i in range(0, len(vocab), 50)
    ]
    data.write_text("".join(f"{'pos' if i % 2 else 'neg'}\t{t}\n" for i, t in enumerate(texts)))
    config = replace(
        config,
        data=replace(config.data, path=str(data)),
        train=replace(config.train, epochs=1, out_dir=str(folder / "sentiment"), progress=False),
    )
    S.train(config)
    return S.SentimentClassifier(folder / "sentiment" / "best")


def ner_model(preset: str, folder: Path, rng: random.Random) -> ner.NERTagger:
    config = ner.PRESETS[preset]
    vocab = words(5000, rng)
    files = {}
    for split, n in (("train", 300), ("dev", 50)):
        files[split] = folder / f"{split}.conll"
        body = "\n".join("".join(f"{w} {t}\n" for w, t in s) for s in sentences(n, vocab, rng))
        files[split].write_text(body)
    config = replace(
        config,
        data=replace(config.data, train_file=str(files["train"]), dev_file=str(files["dev"])),
        train=replace(config.train, epochs=1, out_dir=str(folder / "ner"), progress=False),
    )
    ner.train(config)
    return ner.NERTagger(folder / "ner" / "best")


def rate(n: int, run: Callable[[], object], repeats: int = 3) -> float:
    """Items per second of the fastest of `repeats` calls that each handle n items."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sentiment-preset", default="default", choices=sorted(S.PRESETS))
    p.add_argument("--ner-preset", default="default", choices=sorted(ner.PRESETS))
    p.add_argument("--reviews", type=int, default=5000, help="reviews to classify")
    p.add_argument("--sentences", type=int, default=5000, help="sentences to tag")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        classifier = sentiment_model(args.sentiment_preset, folder, rng)
        texts = reviews(args.reviews, words(2000, rng), rng)
        classifier.predict(texts[:64])  # warm-up
        whole = rate(len(texts), lambda: classifier.predict(texts))
        streamed = rate(
            len(texts), lambda: [r for c in classifier.predict_chunks(texts) for r in c]
        )
        rows.append([f"predict sentiment ({args.sentiment_preset})", "reviews/s", whole, streamed])
        tagger = ner_model(args.ner_preset, folder, rng)
        lines = [
            " ".join(w for w, _ in s) for s in sentences(args.sentences, words(3000, rng), rng)
        ]
        tagger.tag_texts(lines[:64])  # warm-up
        whole = rate(len(lines), lambda: tagger.tag_texts(lines))
        streamed = rate(len(lines), lambda: [t for c in tagger.tag_chunks(lines) for t in c])
        rows.append([f"tag ner ({args.ner_preset})", "sentences/s", whole, streamed])
    print(f"{args.threads} thread(s); {args.reviews} reviews, {args.sentences} sentences")
    header = ["command (preset)", "unit", "whole list", "streamed (chunks)"]
    print(markdown_table(header, [[a, b, f"{w:,.0f}", f"{s:,.0f}"] for a, b, w, s in rows]))


if __name__ == "__main__":
    main()
