"""`rnnkit crossval TASK --folds K [train options]`: k-fold cross-validation of a task whose data
config has folds (`rnnkit.tasks.crossval`)."""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli.configargs import add_config_arguments, apply_overrides
from rnnkit.config import read_config_file
from rnnkit.errors import RnnkitError
from rnnkit.tasks import RECIPES, Recipe
from rnnkit.tasks.crossval import cross_validate, supports_folds

DEFAULT_FOLDS = 5


def add_command(commands: Any, presets: dict[str, str]) -> None:
    p = commands.add_parser(
        "crossval",
        help="k-fold cross-validation of a task on small data",
        description="Train K models, each with one stratified fold of the training data as its "
        "dev split, and print each fold's dev score after the last epoch, their mean and "
        "standard deviation (summary in OUT/crossval.json, runs in OUT/fold-0 ...).",
    )
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, recipe in RECIPES.items():
        if supports_folds(recipe.PRESETS["default"]):
            add_task(tasks, recipe, presets.get(name, "default"))


def add_task(tasks: Any, recipe: Recipe[Any], preset: str) -> None:
    p = tasks.add_parser(
        recipe.NAME, help=recipe.HELP, description=f"Cross-validate: {recipe.HELP}."
    )
    p.add_argument(
        "--preset",
        choices=sorted(recipe.PRESETS),
        default="default",
        help="starting configuration (default: default)",
    )
    p.add_argument(
        "--out",
        dest="out_dir_arg",
        metavar="DIR",
        help="where the folds' runs and crossval.json go (default: the preset's run directory "
        "with -cv)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--config", metavar="FILE", help="a JSON or TOML file of config fields")
    config = recipe.PRESETS[preset]
    add_config_arguments(p, config, hidden=recipe.HIDDEN | {"out_dir", "progress", "fold"})
    p.set_defaults(run=cmd_crossval, recipe=recipe)


def cmd_crossval(args: argparse.Namespace) -> int:
    recipe: Recipe[Any] = args.recipe
    base = recipe.PRESETS[args.preset]
    if args.config:
        base = read_config_file(args.config, base)
    config = apply_overrides(base, vars(args))
    if args.out_dir_arg == "":
        raise RnnkitError("--out: an empty path; give a directory")
    out = args.out_dir_arg or (f"{base.train.out_dir}-cv" if base.train.out_dir else None)
    extra: dict[str, Any] = {"out_dir": out, "folds": config.data.folds or DEFAULT_FOLDS}
    if args.quiet:
        extra["progress"] = False
    config = apply_overrides(config, extra)
    result = cross_validate(recipe, config, config.data.folds)
    for fold, (score, best) in enumerate(zip(result.scores, result.best, strict=True)):
        print(f"fold {fold}  {result.metric} {score:.4f}  (best epoch {best:.4f})")
    print(
        f"{len(result.scores)}-fold {result.metric}: {result.mean:.4f} ± {result.std:.4f} "
        f"(last epoch; best epoch {result.to_dict()['best_epoch_mean']:.4f})"
    )
    if out is not None:
        print(f"summary: {out}/crossval.json")
    return 0
