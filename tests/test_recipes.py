"""Every task recipe through the recipe contract alone: train on tiny data, load the trained
model, evaluate it. Nothing here knows a task's own functions, only `rnnkit.tasks.RECIPES`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from activity_data import write_cases_ts
from dna_data import recipe_data as dna_recipe_data
from speech_data import write_recordings

from rnnkit.cli.configargs import apply_overrides
from rnnkit.tasks import RECIPES, Loaded
from rnnkit.tasks.recipe import Prepared

SENTENCES = [
    ("Harry Potter met Ron in London .", "B-PER I-PER O B-PER O B-LOC O"),
    ("Hermione went to Paris .", "B-PER O O B-LOC O"),
    ("Ron likes London .", "B-PER O B-LOC O"),
]
REVIEWS = [("pos", "a wonderful film , great acting"), ("neg", "a dull film , bad acting")] * 8
PAIRS = [
    ("Go.", "Va !"),
    ("I sing.", "Je chante."),
    ("Do you want to sing?", "Voulez-vous chanter ?"),
    ("We sing with you.", "Nous chantons avec vous."),
    ("Sing with me!", "Chante avec moi !"),
]
TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 6


def write_data(task: str, folder: Path) -> dict[str, Any]:
    """Tiny data of each task, and the options that point the task at it (small models)."""
    folder.mkdir(parents=True)
    if task == "music":
        piece = [[60, 64, 67], [62, 65], [64, 67, 72], [60]]
        (folder / "train.json").write_text(json.dumps([piece * 2] * 4))
        (folder / "valid.json").write_text(json.dumps([piece] * 2))
        return {"source": "jsb", "data": str(folder), "hidden_size": 8, "batch_size": 2}
    if task == "sentiment":
        path = folder / "reviews.tsv"
        path.write_text("".join(f"{y}\t{x}\n" for y, x in REVIEWS), encoding="utf-8")
        return {"data": str(path), "dev_fraction": 0.25, "embedding_dim": 8, "batch_size": 4}
    if task == "ner":
        path = folder / "train.conll"
        path.write_text(
            "\n\n".join(
                "\n".join(f"{w} {t}" for w, t in zip(s.split(), tags.split()))
                for s, tags in SENTENCES
            )
            + "\n",
            encoding="utf-8",
        )
        return {
            "train_file": str(path),
            "dev_file": str(path),
            "hidden_size": 8,
            "embedding_dim": 8,
            "char_dim": 4,
            "char_hidden": 4,
            "batch_size": 2,
        }
    if task == "translate":
        path = folder / "pairs.txt"
        path.write_text("".join(f"{en}\t{fr}\n" for en, fr in PAIRS * 4), encoding="utf-8")
        return {
            "data": str(path),
            "min_count": 1,
            "hidden_size": 16,
            "source_embedding_dim": 8,
            "target_embedding_dim": 8,
            "dev_bleu_sentences": 4,
            "batch_size": 4,
        }
    return write_more_data(task, folder)


def write_more_data(task: str, folder: Path) -> dict[str, Any]:
    """`write_data` of the tasks that come after translate."""
    if task == "dna":
        return dna_recipe_data(folder)
    if task == "activity":
        path = write_cases_ts(folder / "Synthetic_TRAIN.ts", per_class=10)
        return {"data": str(path), "hidden_size": 8, "num_layers": 1, "batch_size": 4}
    if task == "speech":
        write_recordings(folder, takes=range(5, 12))
        return {"data": str(folder), "hidden_size": 16, "num_layers": 1, "batch_size": 8}
    if task == "video":
        from rnnkit.data.moving_digits import MovingDigitsSpec, write_moving_digits

        spec = MovingDigitsSpec(frames=6, size=16, digit_size=10, min_speed=1.0)
        tsv = write_moving_digits(folder, 120, seed=0, spec=spec)
        lines = tsv.read_text().splitlines(keepends=True)  # moving left or right: quick to learn
        tsv.write_text("".join(x for x in lines if x.split("\t")[1].strip() in ("left", "right")))
        small = {"height": 16, "width": 16, "conv_layers": 2, "conv_channels": 4}
        return {"data": str(folder), **small, "frame_features": 8, "hidden_size": 8,
                "batch_size": 4}  # fmt: skip
    path = folder / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return {"data": str(path), "hidden_size": 16, "num_layers": 1, "bptt": 16, "batch_size": 2}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_trains_loads_and_evaluates_through_the_contract(
    name: str, tmp_path: Path
) -> None:
    recipe = RECIPES[name]
    assert recipe.NAME == name and "default" in recipe.PRESETS and recipe.HELP
    options = write_data(name, tmp_path / "data")
    config = apply_overrides(
        recipe.PRESETS["default"],
        {**options, "epochs": 4, "lr": 0.01, "progress": False, "out_dir": str(tmp_path / "run")},
    )

    prepared = recipe.prepare(config)
    assert isinstance(prepared, Prepared)
    untrained = recipe.build_model(prepared.config)
    batches = list(prepared.train_batches(0))
    assert batches, "the training data gives batches"
    assert prepared.dev_batches is not None
    before = prepared.evaluate(untrained.eval(), prepared.dev_batches())

    result = recipe.train(config)
    assert result.epochs_completed == 4
    loaded = recipe.load(tmp_path / "run" / "best")
    assert isinstance(loaded, Loaded) and not loaded.model.training
    # The data config saved with the run names the files it trained on.
    assert any(str(tmp_path / "data") in str(v) for v in vars(loaded.data).values())

    metrics = recipe.evaluate(tmp_path / "run" / "best")
    assert metrics, "evaluate returns metrics"
    # The model evaluated on its own dev data improved on the untrained one.
    after = prepared.evaluate(loaded.model, prepared.dev_batches())
    assert after["loss"] < before["loss"]
