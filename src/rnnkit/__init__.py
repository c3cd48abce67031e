"""rnnkit: recurrent neural networks, from the lecture's equations to fast training."""

from __future__ import annotations

__version__ = "0.1.0"
