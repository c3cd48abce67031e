"""The data sets the recipes train on, for the command line (`rnnkit data list|fetch`), which
reaches the data layer only through the tasks: see `rnnkit.data.datasets`."""

from __future__ import annotations

from rnnkit.data.datasets import DATASETS, Dataset, dataset, describe, fetch, status
from rnnkit.data.paths import data_root, shared_data_dir

__all__ = [
    "DATASETS",
    "Dataset",
    "data_root",
    "dataset",
    "describe",
    "fetch",
    "shared_data_dir",
    "status",
]
