"""A state_dict (an optimizer's, a scheduler's) as JSON plus a flat dict of tensors, and back.

    split_tensors({"state": {0: {"exp_avg": t}}, "param_groups": [...]}, "optimizer", tensors)
      -> {"state": {"__items__": [[0, {"exp_avg": {"__tensor__": "optimizer.state.0.exp_avg"}}]]},
          "param_groups": [...]}                     and tensors["optimizer.state.0.exp_avg"] = t

so that a checkpoint stores the tensors in safetensors and the rest in JSON, never a pickle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rnnkit.errors import CheckpointError, RnnkitError


def split_tensors(tree: Any, prefix: str, tensors: dict[str, Tensor]) -> Any:
    """A state_dict as JSON with tensors moved to `tensors` under their key paths.

    Dicts with only plain string keys stay dicts; any other dict (the optimizer's integer
    parameter ids) becomes {"__items__": [[key, value], ...]}, tuples {"__tuple__": [...]},
    so `join_tensors` rebuilds the exact structure.
    """
    if isinstance(tree, Tensor):
        key = prefix
        n = 1
        while key in tensors:  # two paths that print the same ("a.b" vs ["a"]["b"])
            key, n = f"{prefix}#{n}", n + 1
        tensors[key] = tree.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(tree, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in tree):
            return {k: split_tensors(v, f"{prefix}.{k}", tensors) for k, v in tree.items()}
        return {
            "__items__": [[k, split_tensors(v, f"{prefix}.{k}", tensors)] for k, v in tree.items()]
        }
    if isinstance(tree, tuple):
        return {
            "__tuple__": [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(tree)]
        }
    if isinstance(tree, list):
        return [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(tree)]
    if isinstance(tree, np.generic):
        return tree.item()
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise RnnkitError(f"cannot checkpoint {prefix} of type {type(tree).__name__}")


def join_tensors(tree: Any, tensors: Mapping[str, Tensor], where: Path) -> Any:
    """Inverse of `split_tensors`; `where` (the tensor file) names the checkpoint in errors."""
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            key = tree["__tensor__"]
            if key not in tensors:
                raise CheckpointError(
                    f"{where}: tensor {key!r} named in checkpoint.json is missing"
                )
            return tensors[key]
        if set(tree) == {"__tuple__"}:
            return tuple(join_tensors(v, tensors, where) for v in tree["__tuple__"])
        if set(tree) == {"__items__"}:
            return {k: join_tensors(v, tensors, where) for k, v in tree["__items__"]}
        return {k: join_tensors(v, tensors, where) for k, v in tree.items()}
    if isinstance(tree, list):
        return [join_tensors(v, tensors, where) for v in tree]
    return tree
