"""Running an app on 127.0.0.1 in a background thread: for tests, benchmarks and notebooks."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from rnnkit.errors import RnnkitError


def check_port(host: str, port: int) -> None:
    """RnnkitError when this process cannot listen on host:port (the port in use, or the host
    not an address of this machine): said before the models load, not after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise RnnkitError(
                f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port "
                "(or --host)"
            ) from None


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` (an ASGI app) with uvicorn in a daemon thread while the block runs; yields
    its base URL, e.g. http://127.0.0.1:41233 (port 0: a free port)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30.0
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RnnkitError(f"the server on {host} did not start")
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        sock.close()
