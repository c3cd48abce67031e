"""Using a trained tagger: raw text in, entities with character offsets out; whole files
tagged to CoNLL columns or JSON lines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from rnnkit.data.atomic import atomic_write
from rnnkit.data.conll import TaggedSentence, stream_conll, write_conll_chunks
from rnnkit.data.lines import CHUNK_LINES, STDIN, chunked, file_lines, stream_lines
from rnnkit.data.sequences import in_order_batches
from rnnkit.data.tags import bio_to_spans
from rnnkit.data.text import Token, tokenize_with_offsets
from rnnkit.errors import DataError, RnnkitError
from rnnkit.tasks.ner.config import NERDataConfig
from rnnkit.tasks.ner.evaluation import predict_ids
from rnnkit.tasks.ner.pipeline import (
    EVAL_BATCH_SIZE,
    NERPipeline,
    collate,
    sentence_length,
    stream_sentences,
)
from rnnkit.tasks.recipe import Loaded, TrainedModel, load_run

NAME = "ner"
# The longest text (in characters; for tokenized input, its tokens joined by spaces) tagged in
# one piece: the tagger reads a whole text at once, and one of 10 MB took 89 s and 6 GB.
MAX_TEXT_CHARS = 100_000


class Entity(NamedTuple):
    """A recognised entity of a raw text: text[start:end] == entity.text."""

    type: str
    start: int  # character offset of its first character
    end: int  # character offset after its last character
    text: str


@dataclass(frozen=True)
class TaggedText:
    """A raw text, its tokens with offsets, one BIO tag per token, and the entities."""

    text: str
    tokens: list[Token]
    tags: list[str]
    entities: list[Entity]

    def bracketed(self) -> str:
        """The text with every entity marked in place: 'met [Harry Potter]PER.'; the spacing
        of the original text is untouched."""
        out, at = [], 0
        for e in self.entities:
            out += [self.text[at : e.start], "[", e.text, "]", e.type]
            at = e.end
        out.append(self.text[at:])
        return "".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "entities": [e._asdict() for e in self.entities],
            "tokens": [t.text for t in self.tokens],
            "tags": self.tags,
        }


def load(checkpoint: str | Path) -> Loaded[nn.Module, NERPipeline, NERDataConfig]:
    """The trained tagger, its pipeline (vocabularies) and the data config it was trained on."""
    model, meta, data = load_run(checkpoint, NAME, nn.Module, NERDataConfig)
    return Loaded(model, NERPipeline.from_extras(meta.extras, checkpoint), data)


class NERTagger(TrainedModel[nn.Module, NERPipeline, NERDataConfig]):
    """A trained tagger loaded from a checkpoint directory, ready to tag many texts.

    >>> tagger = NERTagger("runs/ner/best")                               # doctest: +SKIP
    >>> tagger.tag_texts(["Harry Potter met Hermione."])[0].bracketed()   # doctest: +SKIP
    '[Harry Potter]PER met [Hermione]PER.'
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu"):
        super().__init__(load(checkpoint), checkpoint, device)

    def tag_tokens(self, sentences: Sequence[Sequence[str]], first: int = 1) -> list[list[str]]:
        """BIO tags for each tokenized sentence (every sentence needs at least one token; at
        most MAX_TEXT_CHARS characters, its tokens joined by spaces; errors number the
        sentences from `first`)."""
        for i, tokens in enumerate(sentences, start=first):
            _check_length(sum(len(t) + 1 for t in tokens) - 1, f"sentence {i}")
        examples = [self.pipeline.encode(tokens) for tokens in sentences]
        result: list[list[str]] = [[] for _ in examples]
        if not examples:
            return result
        with torch.no_grad():
            batches = in_order_batches(examples, EVAL_BATCH_SIZE, collate, sentence_length)
            for indices, batch in batches:
                for i, ids in zip(indices, predict_ids(self.model, batch.to(self.device))):
                    result[i] = self.pipeline.tag_names(ids)
        return result

    def tag_texts(
        self, texts: Sequence[str], first: int = 1, source: str | None = None
    ) -> list[TaggedText]:
        """Tokenize and tag raw texts (one sentence or more each); RnnkitError naming the text
        (1-based, texts[0] being text `first`) when one has no words or is too long, or, when
        the texts are the lines of a file `source`, a DataError naming its file and line."""
        if isinstance(texts, str):
            raise RnnkitError("tag_texts expects a list of texts, got a single string: [text]")
        tokenized = []
        for i, text in enumerate(texts, start=first):
            try:
                _check_length(len(text), f"text {i}")
                tokens = tokenize_with_offsets(text)
                if not tokens:
                    raise RnnkitError(f"text {i} is empty: nothing to tag")
            except RnnkitError as e:
                if source is None:
                    raise
                raise DataError(str(e), path=source, line=i) from None
            tokenized.append(tokens)
        tag_lists = self.tag_tokens([[t.text for t in tokens] for tokens in tokenized])
        return [
            TaggedText(text, tokens, tags, entities(text, tokens, tags))
            for text, tokens, tags in zip(texts, tokenized, tag_lists)
        ]

    def tag_chunks(
        self, texts: Iterable[str], source: str | None = None, chunk_size: int = CHUNK_LINES
    ) -> Iterator[list[TaggedText]]:
        """`tag_texts` over a stream of texts, `chunk_size` at a time: each chunk is tagged
        and yielded before the next is taken (a file of any size in bounded memory, results
        at once); errors count the texts over the whole stream."""
        if isinstance(texts, str):
            raise RnnkitError("tag_chunks expects texts (lines), got a single string")
        first = 1
        for chunk in chunked(texts, chunk_size):
            yield self.tag_texts(chunk, first, source)
            first += len(chunk)


def _check_length(chars: int, what: str) -> None:
    if chars > MAX_TEXT_CHARS:
        raise RnnkitError(
            f"{what} has {chars:,} characters, more than the {MAX_TEXT_CHARS:,} tagged in one "
            "piece: split it into sentences or lines"
        )


def entities(text: str, tokens: Sequence[Token], tags: Sequence[str]) -> list[Entity]:
    """The entities of BIO tags over tokens, in character offsets of `text`."""
    out = []
    for span in bio_to_spans(tags):
        start, end = tokens[span.start].start, tokens[span.end - 1].end
        out.append(Entity(span.type, start, end, text[start:end]))
    return out


def tag_texts(
    checkpoint: str | Path, texts: Sequence[str], device: str | torch.device = "cpu"
) -> list[TaggedText]:
    """Tag raw texts with the model of a checkpoint (see `NERTagger.tag_texts`); loads it for
    this one call: keep an NERTagger to tag many batches of texts."""
    return NERTagger(checkpoint, device).tag_texts(texts)


def tag_file(
    checkpoint: str | Path,
    path: str | Path,
    out: str | Path,
    format: str = "conll",
    jsonl: bool = False,
    device: str | torch.device = "cpu",
) -> int:
    """Tag every sentence of a file (the model on `device`); returns the number of sentences.

    format: "conll", "tsv" or "binary" (labelled files), or "text" (raw text, one or more
    sentences a line). A CoNLL file with a single column (tokens only) is read as unlabelled.
    Writes to `out`:
      - CoNLL (the default for tokenized input): `token gold predicted` lines, a blank line
        after each sentence (conlleval's input), or `token predicted` for unlabelled input;
      - with jsonl=True (the only output for "text"), one JSON object per sentence or line:
        {"text", "entities": [{"type", "start", "end", "text"}], "tokens", "tags"}, offsets in
        characters of "text" (for tokenized input: the tokens joined by single spaces).

    `path` "-" reads standard input (format "text" only). RnnkitError, before anything is
    read, when `out` is the input file itself (the same path, a link to it or a hard link).

    The input streams through in chunks of CHUNK_LINES lines or sentences, each read, tagged
    and written before the next (a file of any size in bounded memory); `out` appears whole
    once the last is written. A column file is read twice, checked whole first
    (`rnnkit.data.conll.stream_conll`), so its errors come before any tagging; a text line's
    errors name its file and line when it is reached.
    """
    _check_paths(path, out, format)
    tagger = NERTagger(checkpoint, device)
    if format == "text":  # streamed: a chunk of lines at a time is read, tagged and written
        lines = stream_lines(
            path, "empty line: every line must hold text to tag", "empty file: no text to tag"
        )
        name = "<stdin>" if str(path) == STDIN else str(path)
        chunks = ([t.to_json() for t in chunk] for chunk in tagger.tag_chunks(lines, name))
        return _write_jsonl_chunks(chunks, out)
    labelled = not (format == "conll" and _single_column(path))
    if labelled:
        sentences = stream_sentences(path, format)
    else:
        sentences = stream_conll(path, column=0, scheme=None)
    tagged = _tagged_chunks(tagger, sentences)  # streamed: a chunk of sentences at a time
    if jsonl:
        records = (
            [_joined(s.tokens, tags).to_json() for s, tags in zip(chunk, predicted)]
            for chunk, predicted in tagged
        )
        return _write_jsonl_chunks(records, out)
    return write_conll_chunks(
        out,
        (
            ([s.tokens for s in chunk], [s.tags for s in chunk] if labelled else None, predicted)
            for chunk, predicted in tagged
        ),
    )


def _tagged_chunks(
    tagger: NERTagger, sentences: Iterable[TaggedSentence]
) -> Iterator[tuple[list[TaggedSentence], list[list[str]]]]:
    """(sentences, their predicted tags), CHUNK_LINES sentences at a time."""
    first = 1
    for chunk in chunked(sentences):
        yield chunk, tagger.tag_tokens([s.tokens for s in chunk], first)
        first += len(chunk)


def _joined(tokens: Sequence[str], tags: list[str]) -> TaggedText:
    """Tagged tokens as a raw text: the tokens joined by single spaces, offsets into it."""
    text, spans, at = " ".join(tokens), [], 0
    for token in tokens:
        spans.append(Token(token, at, at + len(token)))
        at += len(token) + 1
    return TaggedText(text, spans, tags, entities(text, spans, tags))


def _check_paths(path: str | Path, out: str | Path, format: str) -> None:
    """Refuse to write the input over itself, and standard input in a column format."""
    if str(path) == STDIN:
        if format != "text":
            raise RnnkitError(
                "standard input ('-') is read as raw text: give --format text, or the "
                f"{format} file's name"
            )
        return
    try:
        same = os.path.samefile(path, out)
    except OSError:  # one of them does not exist (yet): not the same file
        same = False
    if same:
        raise RnnkitError(
            f"output {out} is the input file {path}: writing it would destroy the input; "
            "choose another output file"
        )


def _single_column(path: str | Path) -> bool:
    """Whether the first token line of a CoNLL file has one column (tokens, no tags)."""
    for line in file_lines(path):
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            return len(fields) == 1
    return False


def _write_jsonl_chunks(chunks: Iterable[Sequence[Mapping[str, Any]]], out: str | Path) -> int:
    """Write chunk after chunk of records as JSON lines to `out` (which appears whole, when
    the last is written: `atomic_write`); returns the number of records."""
    count = 0
    with atomic_write(Path(out)) as f:
        for records in chunks:
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode())
            count += len(records)
    return count
