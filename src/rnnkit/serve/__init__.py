"""`rnnkit serve`: trained models behind an HTTP API with micro-batching, limits, metrics and
a page at / (FastAPI and uvicorn: `pip install 'rnnkit[serve]'`).

>>> from rnnkit.serve import ServeConfig, load_models, serve              # doctest: +SKIP
>>> serve(load_models(["imdb=runs/sentiment/best"]), ServeConfig(), port=8000)  # doctest: +SKIP

`rnnkit.serve.app.build_app(models, config)` gives the ASGI app without running it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.errors import RnnkitError
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.models import ServedModel, load_models
from rnnkit.serve.runner import check_port

INSTALL = "pip install 'rnnkit[serve]'"


def require_server_libraries() -> None:
    """RnnkitError naming the extra when FastAPI or uvicorn is missing."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise RnnkitError(f"serving needs FastAPI and uvicorn ({e.name} is missing): {INSTALL}")


def serve(
    models: Sequence[ServedModel], config: ServeConfig, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Run the server until interrupted."""
    require_server_libraries()
    import uvicorn

    from rnnkit.serve.app import build_app

    uvicorn.run(build_app(models, config), host=host, port=port, log_level="warning")


__all__ = [
    "INSTALL",
    "ServeConfig",
    "ServedModel",
    "check_port",
    "load_models",
    "require_server_libraries",
    "serve",
]
