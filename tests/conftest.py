"""Test-wide settings, the shared data folder, and a local HTTP server for the download tests."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import torch

# The tests run tiny models, for which one intra-op thread is fastest and which then do not
# fight each other (or pytest-xdist workers) for the machine's cores.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


# rnnkit never searches for data (shared_data_dir reads $RNNKIT_SHARED_DATA, else the fetch
# cache): the tests name the benchmark folder beside the repository, when it is there.
_BESIDE = Path(__file__).resolve().parents[2] / "shared" / "data"
if not os.environ.get("RNNKIT_SHARED_DATA") and _BESIDE.is_dir():
    os.environ["RNNKIT_SHARED_DATA"] = str(_BESIDE)


def shared_data() -> Path:
    """The shared data sets: $RNNKIT_SHARED_DATA, else `shared/data` beside the repository.

    Tests that use a data set skip when its file is not there.
    """
    env = os.environ.get("RNNKIT_SHARED_DATA")
    return Path(env) if env else _BESIDE


class LocalServer:
    """An HTTP server on 127.0.0.1 in a thread, serving the files under `root` and counting the
    requests it answers (no machine here reaches the internet, so downloads are tested here)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A LocalServer over the empty folder tmp_path/served, with proxies switched off."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "served"
    root.mkdir()
    server = LocalServer(root)
    yield server
    server.close()
