"""State a model carries from one batch to the next (truncated BPTT), saved with a mid-epoch
checkpoint so that a resumed run continues exactly where it stopped.

A model that carries state (e.g. `rnnkit.models.stateful.StatefulLanguageModel`) exposes it
through two methods; the engine needs nothing else of it:

    carry_state_dict() -> {name: tensor}       the carried state ({} when it carries none)
    load_carry_state_dict({name: tensor})      put it back (tensors already on its device)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn


@runtime_checkable
class CarriesState(Protocol):
    def carry_state_dict(self) -> dict[str, Tensor]: ...

    def load_carry_state_dict(self, state: Mapping[str, Tensor]) -> None: ...


def capture_carry(model: nn.Module) -> dict[str, Tensor] | None:
    """CPU copies of the model's carried state; None for a model that carries none."""
    if not isinstance(model, CarriesState):
        return None
    return {k: v.detach().to("cpu", copy=True) for k, v in model.carry_state_dict().items()}


def restore_carry(model: nn.Module, state: Mapping[str, Tensor], device: torch.device) -> None:
    """Give the model back the state captured by `capture_carry` (on `device`)."""
    if isinstance(model, CarriesState):
        model.load_carry_state_dict({k: v.to(device) for k, v in state.items()})
