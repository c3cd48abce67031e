"""`rnnkit ... ner` and `rnnkit tag`: the named-entity tagger's evaluate and tag commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rnnkit.cli.options import add_checkpoint_option, check_argument_texts
from rnnkit.errors import RnnkitError
from rnnkit.tasks import ner as RECIPE

HELP = "named-entity recognition on CoNLL-2003 (many-to-many, T_x = T_y)"
# Sizes and tags come from the training data; the inputs are always word ids.
HIDDEN = frozenset({"vocab_size", "num_features", "num_chars", "tags"})


def add_commands(verbs: dict[str, Any]) -> None:
    p = verbs["evaluate"].add_parser(
        "ner",
        help=HELP,
        description="Entity-level precision, recall and F1 of a tagger, overall and per entity "
        "type (an entity counts when its type and both boundaries are right, as conlleval "
        "counts), and the token accuracy.",
    )
    add_checkpoint_option(p, "ner")
    p.add_argument("--data", required=True, metavar="FILE", help="labelled sentences to score")
    p.add_argument(
        "--format",
        choices=list(RECIPE.FORMATS),
        default="conll",
        help="conll (token ... tag columns), tsv (token<TAB>tag) or binary (sentence<TAB>0 1 ...) "
        "(default: conll)",
    )
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.set_defaults(run=evaluate)

    root = verbs["_root"]
    p = root.add_parser(
        "tag",
        help="mark the named entities in text with a trained tagger",
        description="Tag raw sentences given as arguments (printed with their entities in "
        "brackets: 'met [Harry Potter]PER.'), or a whole file with --input.",
    )
    add_checkpoint_option(p, "ner")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to tag")
    p.add_argument(
        "--input",
        metavar="FILE",
        help="tag this file instead: CoNLL columns (one token a line; a single column = tokens "
        "only), or see --format",
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="where to write the tagged --input: CoNLL `token gold predicted` lines (`token "
        "predicted` for tokens only), or JSON lines with --jsonl",
    )
    p.add_argument(
        "--format",
        choices=[*RECIPE.FORMATS, "text"],
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
    p.set_defaults(run=tag)


def evaluate(args: argparse.Namespace) -> int:
    scores = RECIPE.evaluate(args.checkpoint, args.data, format=args.format)
    if args.json:
        record = {
            "overall": vars(scores.overall),
            "per_type": {name: vars(s) for name, s in scores.per_type.items()},
            "accuracy": scores.accuracy,
            "tokens": scores.tokens,
        }
        print(json.dumps(record, indent=2))
        return 0
    print(scores.format_report())
    return 0


def tag(args: argparse.Namespace) -> int:
    if args.input is not None:
        if args.texts:
            raise RnnkitError("give sentences as arguments or a file with --input, not both")
        if args.output is None:
            raise RnnkitError("--input needs --output FILE to write the tagged sentences to")
        n = RECIPE.tag_file(
            args.checkpoint,
            args.input,
            args.output,
            format=args.format,
            jsonl=args.jsonl or args.format == "text",
        )
        print(f"tagged {n} sentences of {args.input} -> {args.output}")
        return 0
    if args.output is not None:
        raise RnnkitError("--output goes with --input FILE; tagged arguments are printed")
    if not args.texts:
        raise RnnkitError("nothing to tag: give sentences as arguments, or --input FILE")
    check_argument_texts(args.texts)
    for tagged in RECIPE.tag_texts(args.checkpoint, args.texts):
        if args.jsonl:
            print(json.dumps(tagged.to_json(), ensure_ascii=False))
        else:
            print(tagged.bracketed())
    return 0
