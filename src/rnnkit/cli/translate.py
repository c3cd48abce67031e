"""`rnnkit ... translate` and `rnnkit translate`: the translator's evaluate options and the
command that translates sentences (arguments, a file or standard input)."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from rnnkit.cli.commands import TaskCommands
from rnnkit.cli.options import (
    add_beam_option,
    add_checkpoint_option,
    add_device_options,
    check_argument_texts,
    device_from,
)
from rnnkit.errors import RnnkitError
from rnnkit.tasks import STDIN, chunked, stream_lines
from rnnkit.tasks import translate as recipe


def add_commands(verbs: Mapping[str, Any], commands: Any) -> None:
    p = commands.add_parser(
        "translate",
        help="translate sentences with a trained encoder-decoder",
        description="Translate sentences given as arguments, or one per line of --input FILE "
        "('-': standard input); one translation a line, in input order.",
    )
    add_checkpoint_option(p, "translate")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    p.add_argument("--input", metavar="FILE", help="one sentence a line; '-' standard input")
    add_beam_option(p, 5, "beam size")
    p.add_argument(
        "--show-attention",
        metavar="PNG",
        help="write the attention heatmap of the (single) sentence's translation to PNG",
    )
    p.add_argument(
        "--copy-unknowns",
        action="store_true",
        help="replace each <unk> of a translation by the source word the attention weighted "
        "most there (names, numbers)",
    )
    add_device_options(p)
    p.set_defaults(run=translate)


def gather_texts(args: argparse.Namespace) -> Iterator[str]:
    """The sentences: the arguments, or the lines of --input FILE or of standard input ('-'),
    streamed (read as they are translated); the first line is read here, before the model is
    loaded, so that a missing or empty input is reported straight away."""
    if args.input is not None and args.texts:
        raise RnnkitError("give sentences as arguments or with --input, not both")
    source = args.input if args.input is not None else None
    if source is None and args.texts == [STDIN]:
        source = STDIN
    if source is not None:
        lines = stream_lines(source, "empty line: every line must hold a sentence", "no text")
        return itertools.chain([next(lines)], lines)
    if not args.texts:
        raise RnnkitError("nothing to translate: give sentences, --input FILE or '-'")
    check_argument_texts(args.texts)
    return iter(args.texts)


def translate(args: argparse.Namespace) -> int:
    texts = gather_texts(args)
    translator = recipe.Translator(args.checkpoint, device_from(args))
    if args.show_attention is not None:
        sentences = list(texts)
        if len(sentences) != 1:
            raise RnnkitError("--show-attention draws one sentence's translation: give one")
        source, target, weights = translator.attention(sentences[0], args.beam)
        recipe.plot_attention(source, target, weights, args.show_attention)
        print(f"wrote {args.show_attention}")
        texts = iter(sentences)
    first = 1
    for chunk in chunked(texts):  # a chunk of lines at a time: bounded memory, output at once
        for translation in translator.translate(chunk, args.beam, args.copy_unknowns, first):
            print(translation)
        sys.stdout.flush()
        first += len(chunk)
    return 0


COMMANDS = TaskCommands(
    evaluate_help="BLEU (as is and case-insensitive) and chrF of a translator, with sacrebleu.",
    data_help="English<TAB>French pairs to score (default: the dev split of the model's own "
    "training file)",
    split_help="not used: a pair file is one split",
    add_evaluate_options=lambda p: add_beam_option(p, 5, "beam size"),
    evaluate_options=("beam",),
    add_commands=add_commands,
)
