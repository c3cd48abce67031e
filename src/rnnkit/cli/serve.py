"""`rnnkit serve`: trained models behind an HTTP API and a page (`rnnkit.serve`)."""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli.options import add_device_options, device_from
from rnnkit.serve import (
    ServeConfig,
    check_port,
    load_models,
    require_server_libraries,
    serve,
)

DEFAULTS = ServeConfig()


def add_command(commands: Any) -> None:
    p = commands.add_parser(
        "serve",
        help="serve trained models over HTTP (API, page at /, /health, /metrics)",
        description="Serve sentiment, NER, translation, character text, music and speech "
        'models over HTTP: POST /v1/NAME/classify, /tag or /translate with {"texts": [...]}, '
        "/v1/NAME/generate (the text streamed as it is sampled), /v1/NAME/compose (MIDI and "
        "piano roll), /v1/NAME/transcribe (a WAV body), a page at /, /health, /metrics and "
        "the OpenAPI description at /openapi.json. Needs `pip install 'rnnkit[serve]'`.",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="[NAME=]DIR",
        help="a checkpoint to serve, as NAME=DIR or DIR (named after its folder, or its run's "
        "folder for .../best); repeat for several models",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=DEFAULTS.batch_wait_ms,
        metavar="MS",
        help="requests arriving within MS milliseconds run as one batch; 0: no batching "
        "(default: %(default)s)",
    )
    for option, help_text in (
        ("max_batch", "most texts in one model call"),
        ("max_request_bytes", "largest request body; larger ones get 413"),
        ("max_texts", "most texts in one request"),
        ("max_text_chars", "longest text in characters"),
        ("max_generate_length", "most characters one generation request may ask for"),
        ("max_compose_steps", "most quarter notes one music request may ask for"),
    ):
        p.add_argument(
            "--" + option.replace("_", "-"),
            type=int,
            default=getattr(DEFAULTS, option),
            metavar="N",
            help=f"{help_text} (default: %(default)s)",
        )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULTS.timeout,
        metavar="SECONDS",
        help="longest wait for an answer; then 504 (default: %(default)s)",
    )
    add_device_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ServeConfig(
        batch_wait_ms=args.batch_wait_ms,
        max_batch=args.max_batch,
        max_request_bytes=args.max_request_bytes,
        max_texts=args.max_texts,
        max_text_chars=args.max_text_chars,
        max_generate_length=args.max_generate_length,
        max_compose_steps=args.max_compose_steps,
        timeout=args.timeout,
    )
    require_server_libraries()  # before the models load
    check_port(args.host, args.port)
    models = load_models(args.checkpoint, device_from(args))
    print(f"rnnkit serve: http://{args.host}:{args.port}/ ({', '.join(m.name for m in models)})")
    serve(models, config, args.host, args.port)
    return 0
