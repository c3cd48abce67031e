"""`rnnkit ... ner` and `rnnkit tag`: the named-entity tagger's evaluate table and `tag`."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import (
    add_checkpoint_option,
    add_device_options,
    check_argument_texts,
    device_from,
)
from rnnkit.errors import RnnkitError
from rnnkit.metrics.entities import EntityScores, Score
from rnnkit.tasks import STDIN, stream_lines
from rnnkit.tasks import ner as recipe


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=list(recipe.FORMATS),
        default=None,
        help="conll (token ... tag columns), tsv (token<TAB>tag) or binary (sentence<TAB>0 1 ...) "
        "(default: the training data's)",
    )


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = commands.add_parser(
        "tag",
        help="mark the named entities in text with a trained tagger",
        description="Tag raw sentences given as arguments (printed with their entities in "
        "brackets: 'met [Harry Potter]PER.'), or a whole file with --input.",
    )
    add_checkpoint_option(p, "ner")
    p.add_argument(
        "texts",
        nargs="*",
        metavar="TEXT",
        help="sentences to tag; '-' reads them from standard input, one text a line",
    )
    p.add_argument(
        "--input",
        metavar="FILE",
        help="tag this file instead: CoNLL columns (one token a line; a single column = tokens "
        "only), or see --format; '-' reads standard input (with --format text)",
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="where to write the tagged --input: CoNLL `token gold predicted` lines (`token "
        "predicted` for tokens only), or JSON lines with --jsonl",
    )
    p.add_argument(
        "--format",
        choices=[*recipe.FORMATS, "text"],
        default="conll",
        help="format of --input: conll, tsv, binary, or text (raw text, one or more sentences "
        "a line; written as JSON lines) (default: conll)",
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help='JSON lines: {"text", "entities": [{"type", "start", "end", "text"}], "tokens", '
        '"tags"} with character offsets into "text"',
    )
    add_device_options(p)
    p.set_defaults(run=tag)


def format_evaluation(result: dict[str, Any]) -> str:
    """conlleval's table: per type and overall, then the token accuracy."""
    return EntityScores(
        overall=Score(**result["overall"]),
        per_type={name: Score(**s) for name, s in result["per_type"].items()},
        accuracy=result["accuracy"],
        tokens=result["tokens"],
    ).format_report()


def tag(args: argparse.Namespace) -> int:
    if args.input is not None:
        if args.texts:
            raise RnnkitError("give sentences as arguments or a file with --input, not both")
        if args.output is None:
            raise RnnkitError("--input needs --output FILE to write the tagged sentences to")
        n = recipe.tag_file(
            args.checkpoint,
            args.input,
            args.output,
            format=args.format,
            jsonl=args.jsonl or args.format == "text",
            device=device_from(args),
        )
        print(f"tagged {n} sentences of {args.input} -> {args.output}")
        return 0
    if args.output is not None:
        raise RnnkitError("--output goes with --input FILE; tagged arguments are printed")
    for chunk in tagged_chunks(args):
        for tagged in chunk:
            if args.jsonl:
                print(json.dumps(tagged.to_json(), ensure_ascii=False))
            else:
                print(tagged.bracketed())
        sys.stdout.flush()
    return 0


def tagged_chunks(args: argparse.Namespace) -> Iterator[list[recipe.TaggedText]]:
    """The sentences given as arguments, tagged, as one chunk; or, with '-', standard input
    streamed: a chunk of lines at a time read and tagged (its first line read before the
    model is loaded, so that an empty input is reported straight away)."""
    texts = args.texts
    if texts == [STDIN]:
        lines = stream_lines(
            STDIN, "empty line: every line must hold text to tag", "no text to tag on stdin"
        )
        first = next(lines)
        tagger = recipe.NERTagger(args.checkpoint, device_from(args))
        yield from tagger.tag_chunks(itertools.chain([first], lines), "<stdin>")
        return
    if STDIN in texts:
        raise RnnkitError("'-' (read standard input) must be the only text argument")
    if not texts:
        raise RnnkitError(
            "nothing to tag: give sentences as arguments, '-' for standard input, or --input FILE"
        )
    check_argument_texts(texts)
    yield recipe.tag_texts(args.checkpoint, texts, device_from(args))


COMMANDS = TaskCommands(
    evaluate_help="Entity-level precision, recall and F1 of a tagger, overall and per entity "
    "type (an entity counts when its type and both boundaries are right, as conlleval counts), "
    "and the token accuracy.",
    data_help="labelled sentences to score (default: the dev file the model was trained with)",
    split_help="not used: a file of sentences is one split",
    add_evaluate_options=add_evaluate_options,
    evaluate_options=("format",),
    format_evaluation=format_evaluation,
    add_commands=add_commands,
)
