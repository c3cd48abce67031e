"""`rnnkit data list` and `rnnkit data fetch NAME`: the public data sets the recipes use."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rnnkit.tasks import datasets


def add_command(commands: Any) -> None:
    p = commands.add_parser(
        "data",
        help="list the public data sets and download them into the cache",
        description="The data sets the recipes use, from their original public locations, "
        "checked against SHA-256 digests. Recipes read $RNNKIT_SHARED_DATA when set, else "
        f"what `rnnkit data fetch` downloaded ({datasets.data_root()}).",
    )
    verbs = p.add_subparsers(dest="data_verb", metavar="{list,fetch}", required=True)
    ls = verbs.add_parser("list", help="each data set: recipe, source, license, whether present")
    ls.add_argument("--json", action="store_true", help="one JSON object per data set")
    ls.set_defaults(run=list_datasets)
    fetch = verbs.add_parser("fetch", help="download a data set and check its SHA-256")
    fetch.add_argument("name", choices=list(datasets.DATASETS), metavar="NAME")
    fetch.add_argument(
        "--dir",
        default=None,
        help=f"the data folder to fill (default: {datasets.data_root()}); recipes read it when "
        "RNNKIT_SHARED_DATA names it",
    )
    fetch.add_argument(
        "--sha256",
        default=None,
        metavar="HEX",
        help="the digest to check a download against "
        "(for a data set whose digest rnnkit does not pin)",
    )
    fetch.add_argument(
        "--unverified",
        action="store_true",
        help="accept a download nothing checks; its digest is printed, to pin with --sha256",
    )
    fetch.set_defaults(run=fetch_dataset)


def list_datasets(args: argparse.Namespace) -> int:
    root = datasets.shared_data_dir()
    for d in datasets.DATASETS.values():
        where = datasets.status(d, root)
        if args.json:
            print(json.dumps({**datasets.describe(d), "status": where}))
            continue
        if d.url is None:
            check = "not downloadable (see `rnnkit data fetch " + d.name + "`)"
        elif d.sha256 is not None:
            check = "sha256 of the download pinned"
        elif d.pinned:
            check = "sha256 of the files made from it pinned"
        else:
            check = "sha256 not pinned: --unverified prints it, --sha256 checks it"
        print(f"{d.name:<16} {where:<8} {d.description}")
        print(f"{'':<16} used by: {d.used_by or '(no recipe yet)'}; {check}")
        print(f"{'':<16} source: {d.source}; license: {d.license}")
    print(f"data folder: {root if root is not None else 'none yet'}")
    return 0


def fetch_dataset(args: argparse.Namespace) -> int:
    path = datasets.fetch(args.name, args.dir, sha256=args.sha256, unverified=args.unverified)
    print(f"{args.name}: {path}")
    return 0
