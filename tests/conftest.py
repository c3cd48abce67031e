"""Test-wide settings."""

from __future__ import annotations

import os

import torch

# The tests run tiny models, for which one intra-op thread is fastest and which then do not
# fight each other (or pytest-xdist workers) for the machine's cores.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")
