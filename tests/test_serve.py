"""`rnnkit serve`: the HTTP API against real servers on 127.0.0.1 (uvicorn in a thread, and
once the `rnnkit serve` command in a subprocess), with tiny models trained here and with fake
models that count, sleep or fail on purpose."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
httpx = pytest.importorskip("httpx", reason="httpx (the dev extra) is not installed")

from serve_data import Checkpoints, train_tiny_models  # noqa: E402
from speech_data import write_recordings  # noqa: E402
from test_recipes import PAIRS  # noqa: E402

from rnnkit.cli import main  # noqa: E402
from rnnkit.errors import RnnkitError  # noqa: E402
from rnnkit.serve import ServeConfig, ServedModel, load_models  # noqa: E402
from rnnkit.serve.app import build_app  # noqa: E402
from rnnkit.serve.runner import serve_in_thread  # noqa: E402
from rnnkit.tasks import music, text  # noqa: E402
from rnnkit.tasks.ner.tagging import NERTagger  # noqa: E402
from rnnkit.tasks.sentiment import SentimentClassifier  # noqa: E402
from rnnkit.tasks.speech.inference import Transcriber  # noqa: E402
from rnnkit.tasks.translate.inference import Translator  # noqa: E402

SMALL = ServeConfig(max_request_bytes=10_000, max_texts=4, max_text_chars=200, timeout=10.0)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Checkpoints:
    return train_tiny_models(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def client(checkpoints: Checkpoints) -> Iterator[Any]:
    """A client of a server of the tiny models, named imdb, people, chars, fr-en, chorales and
    digits by their runs."""
    models = load_models([str(c) for c in checkpoints])
    with serve_in_thread(build_app(models, SMALL)) as url, httpx.Client(base_url=url) as c:
        yield c


def test_lists_the_models_and_is_healthy(client: Any) -> None:
    models = client.get("/v1/models").json()["models"]
    assert [(m["name"], m["task"], m["endpoint"]) for m in models] == [
        ("imdb", "sentiment", "/v1/imdb/classify"),
        ("people", "ner", "/v1/people/tag"),
        ("chars", "text", "/v1/chars/generate"),
        ("fr-en", "translate", "/v1/fr-en/translate"),
        ("chorales", "music", "/v1/chorales/compose"),
        ("digits", "speech", "/v1/digits/transcribe"),
    ]
    assert models[0]["labels"] == ["neg", "pos"]
    assert client.get("/health").json() == {"status": "ok", "models": 6}
    paths = client.get("/openapi.json").json()["paths"]
    endpoints = {"/v1/{name}/classify", "/v1/{name}/tag", "/v1/{name}/generate", "/metrics"}
    assert endpoints <= set(paths)


def test_classify_answers_as_the_library_does(client: Any, checkpoints: Checkpoints) -> None:
    texts = ["The movie was good.", "A bad plot and bad acting.", "Really good story."]
    response = client.post("/v1/imdb/classify", json={"texts": texts})
    assert response.status_code == 200
    results = response.json()["results"]
    expected = SentimentClassifier(checkpoints[0]).predict(texts)
    assert [r["label"] for r in results] == ["pos", "neg", "pos"]
    for result, (label, probability) in zip(results, expected, strict=True):
        assert result["label"] == label
        assert result["probability"] == pytest.approx(probability, abs=1e-6)
        assert result["probabilities"][label] == pytest.approx(probability, abs=1e-6)
        assert sum(result["probabilities"].values()) == pytest.approx(1.0)


def test_tag_gives_entities_with_character_offsets(client: Any, checkpoints: Checkpoints) -> None:
    texts = ["Yesterday,  Harry Potter met Ron Weasley.", "Albus Dumbledore lives in Paris."]
    results = client.post("/v1/people/tag", json={"texts": texts}).json()["results"]
    assert results == [t.to_json() for t in NERTagger(checkpoints[1]).tag_texts(texts)]
    first = results[0]
    assert [(e["type"], e["text"]) for e in first["entities"]] == [
        ("PER", "Harry Potter"),
        ("PER", "Ron Weasley"),
    ]
    for result in results:
        for e in result["entities"]:
            assert result["text"][e["start"] : e["end"]] == e["text"]


def test_translate_answers_as_the_library_does(client: Any, checkpoints: Checkpoints) -> None:
    texts = [fr for _, fr in PAIRS[:3]]
    results = client.post("/v1/fr-en/translate", json={"texts": texts}).json()["results"]
    expected = Translator(checkpoints[3]).translate(texts)
    assert [r["translation"] for r in results] == expected


def test_compose_gives_the_librarys_piece_as_midi_and_piano_roll(
    client: Any, checkpoints: Checkpoints, tmp_path: Path
) -> None:
    options = {"steps": 12, "temperature": 0.9, "seed": 4}
    piece = client.post("/v1/chorales/compose", json=options).json()
    midi, png = tmp_path / "piece.mid", tmp_path / "piece.png"
    expected = music.generate(checkpoints.music, out=midi, png=png, **options)
    assert piece["steps"] == expected
    assert base64.b64decode(piece["midi"]) == midi.read_bytes()
    assert base64.b64decode(piece["midi"])[:4] == b"MThd"
    assert base64.b64decode(piece["piano_roll"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_transcribe_hears_an_uploaded_wav_as_the_library_does(
    client: Any, checkpoints: Checkpoints, tmp_path: Path
) -> None:
    wav = write_recordings(tmp_path / "recordings", takes=range(1)) / "3_ann_0.wav"
    response = client.post(
        "/v1/digits/transcribe", content=wav.read_bytes(), headers={"content-type": "audio/wav"}
    )
    assert response.status_code == 200, response.text
    heard = Transcriber(checkpoints.speech).transcribe([wav])[0]
    body = response.json()
    assert (body["text"], body["symbols"]) == (heard.text, heard.symbols)
    assert body["score"] == pytest.approx(heard.score, abs=1e-6)


def test_generate_streams_the_librarys_text_as_it_is_sampled(
    client: Any, checkpoints: Checkpoints
) -> None:
    options = {"prime": "the ", "length": 60, "temperature": 0.8, "seed": 3}
    with client.stream("POST", "/v1/chars/generate", json=options) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        pieces = list(response.iter_raw())
    streamed = b"".join(pieces).decode("utf-8")
    assert streamed == text.generate(checkpoints[2], **options)
    assert len(pieces) > 1  # it came in pieces, not as one body at the end


def chunks(n: int, size: int) -> Iterator[bytes]:
    """A chunked body (no Content-Length) of n * size bytes."""
    for _ in range(n):
        yield b" " * size


BAD_REQUESTS: list[tuple[str, str, Any, int, str]] = [
    # (method, path, body: bytes, JSON-able, or a bytes iterator factory; status; error part)
    ("POST", "/v1/imdb/classify", b"{", 400, "malformed JSON"),
    ("POST", "/v1/imdb/classify", b"", 422, "body"),
    (
        "POST",
        "/v1/imdb/classify",
        {"texts": "one text"},
        422,
        "texts: Input should be a valid list",
    ),
    ("POST", "/v1/imdb/classify", {"texts": ["ok", 3]}, 422, "texts.1"),
    ("POST", "/v1/imdb/classify", {"text": ["ok"]}, 422, "texts: Field required"),
    ("POST", "/v1/imdb/classify", {"texts": ["ok"], "n": 1}, 422, "n: Extra inputs"),
    ("POST", "/v1/imdb/classify", [1, 2], 422, "valid dictionary"),
    ("POST", "/v1/imdb/classify", {"texts": []}, 400, "texts is empty"),
    ("POST", "/v1/imdb/classify", {"texts": ["good", "  \n"]}, 400, "text 2 is empty"),
    ("POST", "/v1/people/tag", {"texts": [""]}, 400, "text 1 is empty"),
    ("POST", "/v1/imdb/classify", {"texts": ["good"] * 5}, 413, "5 texts, more than the 4"),
    ("POST", "/v1/imdb/classify", {"texts": ["good " * 50]}, 413, "more than the 200"),
    ("POST", "/v1/imdb/classify", b" " * 20_000, 413, "over the 10,000 bytes"),
    ("POST", "/v1/imdb/classify", lambda: chunks(4, 5_000), 413, "over the 10,000 bytes"),
    ("POST", "/v1/nobody/classify", {"texts": ["good"]}, 404, "no model named 'nobody'"),
    ("POST", "/v1/imdb/tag", {"texts": ["good"]}, 404, "use /v1/imdb/classify"),
    ("POST", "/v1/people/classify", {"texts": ["good"]}, 404, "use /v1/people/tag"),
    ("POST", "/v1/chars/generate", {"length": 0}, 400, "length must be at least 1"),
    ("POST", "/v1/chars/generate", {"temperature": 0}, 400, "temperature"),
    ("POST", "/v1/chars/generate", {"top_k": 0}, 400, "top-k"),
    ("POST", "/v1/chars/generate", {"prime": "\u263a"}, 400, "prime"),
    ("POST", "/v1/chars/generate", {"length": "10"}, 422, "length: Input should be"),
    ("POST", "/v1/chars/generate", {"seed": 1.5}, 422, "seed"),
    ("POST", "/v1/chars/generate", {"steps": 10}, 422, "steps: Extra inputs"),
    ("POST", "/v1/chars/generate", {"length": 10**6}, 413, "more than the 5,000"),
    ("POST", "/v1/imdb/generate", {"length": 10}, 404, "use /v1/imdb/classify"),
    ("POST", "/v1/fr-en/translate", {"texts": ["\t"]}, 400, "text 1 is empty"),
    ("POST", "/v1/fr-en/classify", {"texts": ["a"]}, 404, "use /v1/fr-en/translate"),
    ("POST", "/v1/chorales/compose", {"steps": 0}, 400, "steps"),
    ("POST", "/v1/chorales/compose", {"temperature": -1}, 400, "temperature"),
    ("POST", "/v1/chorales/compose", {"steps": 5000}, 413, "more than the 1,024 allowed"),
    ("POST", "/v1/chorales/compose", {"seed": "1"}, 422, "seed: Input should be"),
    ("POST", "/v1/chorales/generate", {}, 404, "use /v1/chorales/compose"),
    ("POST", "/v1/digits/transcribe", b"", 400, "empty body"),
    ("POST", "/v1/digits/transcribe", b"RIFF not a wave file", 400, "the uploaded WAV"),
    ("POST", "/v1/digits/transcribe", b"x" * 20_000, 413, "over the 10,000 bytes"),
    ("POST", "/v1/digits/classify", {"texts": ["a"]}, 404, "use /v1/digits/transcribe"),
    ("GET", "/v1/imdb/classify", None, 405, "Method Not Allowed"),
    ("GET", "/no/such/page", None, 404, "Not Found"),
    ("GET", "/docs", None, 404, "Not Found"),  # FastAPI's page would load a CDN's scripts
]


@pytest.mark.parametrize(
    "method, path, body, status, error", BAD_REQUESTS, ids=[f"{b[3]}-{b[4]}" for b in BAD_REQUESTS]
)
def test_bad_input_gets_a_json_error_with_a_4xx_status(
    client: Any, method: str, path: str, body: Any, status: int, error: str
) -> None:
    if body is None:
        response = client.request(method, path)
    elif isinstance(body, bytes) or callable(body):
        content = body() if callable(body) else body
        headers = {"content-type": "application/json"}
        response = client.request(method, path, content=content, headers=headers)
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert error in response.json()["error"]
    assert "Traceback" not in response.text


def test_metrics_count_requests_and_latencies(client: Any) -> None:
    before = client.get("/metrics").json()["endpoints"].get("POST /v1/{name}/tag", {})
    for _ in range(3):
        client.post("/v1/people/tag", json={"texts": ["Harry Potter met Ron Weasley."]})
    client.post("/v1/people/tag", json={"texts": []})
    tag = client.get("/metrics").json()["endpoints"]["POST /v1/{name}/tag"]
    assert tag["requests"] == before.get("requests", 0) + 4
    assert tag["status"]["200"] == before.get("status", {}).get("200", 0) + 3
    assert tag["status"]["400"] >= 1
    assert 0 < tag["latency_ms"]["p50"] <= tag["latency_ms"]["p99"] <= tag["latency_ms"]["max"]


def test_the_page_and_its_files_come_from_the_package_alone(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/app.js">' in page.text
    static = Path(__file__).parents[1] / "src" / "rnnkit" / "serve" / "static"
    for name in ("app.js", "style.css", "index.html"):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200
        assert served.text == (static / name).read_text(encoding="utf-8")
        # no CDN, no font service: nothing on the page reaches beyond this server
        assert "http://" not in served.text and "https://" not in served.text
    links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    local = [link for link in links if link != "data:,"]  # data:, an empty icon: no request
    assert local and all(link.startswith("/") and not link.startswith("//") for link in local)


# ------------------------------------------------------------------- batching and limits


def echo_model(calls: list[list[str]], delay: float = 0.0, fail_on: str = "") -> ServedModel:
    """A fake sentiment model: records each call's texts and labels each text with itself."""

    def run(texts: list[str]) -> list[dict[str, Any]]:
        calls.append(list(texts))
        if fail_on in texts:
            raise RnnkitError(f"text {texts.index(fail_on) + 1}: cannot read {fail_on!r}")
        if "crash" in texts:
            raise ValueError("a bug in the model")
        time.sleep(delay)
        return [{"label": t, "probability": 1.0} for t in texts]

    return ServedModel("echo", "sentiment", "-", run)


def concurrently(url: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST each body to /v1/echo/classify at (nearly) the same moment, one thread each."""
    responses: list[Any] = [None] * len(bodies)
    gate = threading.Barrier(len(bodies))

    def post(i: int) -> None:
        with httpx.Client(base_url=url, timeout=30.0) as c:
            gate.wait()
            responses[i] = c.post("/v1/echo/classify", json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


@pytest.mark.parametrize("wait_ms", [0.0, 150.0])
def test_concurrent_requests_run_as_one_batch_within_the_wait(wait_ms: float) -> None:
    calls: list[list[str]] = []
    config = ServeConfig(batch_wait_ms=wait_ms, max_batch=64)
    bodies = [{"texts": [f"r{i}a", f"r{i}b"]} for i in range(12)]
    with serve_in_thread(build_app([echo_model(calls, delay=0.01)], config)) as url:
        responses = concurrently(url, bodies)
        batching = httpx.get(f"{url}/metrics").json()["batching"]["echo"]
    for body, response in zip(bodies, responses, strict=True):  # each gets its own answers
        assert [r["label"] for r in response.json()["results"]] == body["texts"]
    assert sorted(t for call in calls for t in call) == sorted(
        t for b in bodies for t in b["texts"]
    )
    assert batching == {"model_calls": len(calls), "texts": 24}
    if wait_ms == 0:
        assert len(calls) == 12  # one model call per request
    else:
        assert len(calls) < 12  # requests that arrived together shared model calls
        assert max(len(call) for call in calls) > 2


def test_a_batch_holds_at_most_max_batch_texts() -> None:
    calls: list[list[str]] = []
    config = ServeConfig(batch_wait_ms=150.0, max_batch=4)
    bodies = [{"texts": [f"r{i}"]} for i in range(10)]
    with serve_in_thread(build_app([echo_model(calls)], config)) as url:
        responses = concurrently(url, bodies)
    assert all(r.status_code == 200 for r in responses)
    assert max(len(call) for call in calls) <= 4 and len(calls) >= 3


def test_a_bad_text_fails_only_its_own_request_in_a_batch() -> None:
    calls: list[list[str]] = []
    config = ServeConfig(batch_wait_ms=150.0)
    bodies = [{"texts": ["fine", "unreadable"]}] + [{"texts": [f"r{i}"]} for i in range(5)]
    with serve_in_thread(build_app([echo_model(calls, fail_on="unreadable")], config)) as url:
        responses = concurrently(url, bodies)
    assert responses[0].status_code == 400
    assert responses[0].json() == {"error": "text 2: cannot read 'unreadable'"}
    assert [r.status_code for r in responses[1:]] == [200] * 5


def test_a_slow_answer_gets_504_and_a_failing_model_500_without_a_traceback() -> None:
    config = ServeConfig(timeout=0.2, batch_wait_ms=1.0)
    with serve_in_thread(build_app([echo_model([], delay=1.0)], config)) as url:
        response = httpx.post(f"{url}/v1/echo/classify", json={"texts": ["slow"]})
    assert response.status_code == 504
    assert response.json() == {"error": "no answer within 0.2 s"}
    with serve_in_thread(build_app([echo_model([])], ServeConfig())) as url:
        response = httpx.post(f"{url}/v1/echo/classify", json={"texts": ["crash"]})
        assert response.status_code == 500
        assert response.json() == {"error": "internal error (see the server log)"}
        ok = httpx.post(f"{url}/v1/echo/classify", json={"texts": ["fine"]})
        assert ok.json()["results"] == [{"label": "fine", "probability": 1.0}]


# ------------------------------------------------------------------------------ the CLI


def error_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_cli_refuses_bad_options_and_checkpoints(
    checkpoints: Checkpoints, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imdb = str(checkpoints[0])
    serve = ["serve", "--checkpoint", imdb]
    assert "--batch-wait-ms must be 0 or more" in error_of(
        [*serve, "--batch-wait-ms", "-1"], capsys
    )
    assert "--max-texts must be at least 1" in error_of([*serve, "--max-texts", "0"], capsys)
    assert "--timeout must be more than 0" in error_of([*serve, "--timeout", "0"], capsys)
    missing = str(tmp_path / "none")
    assert "not found" in error_of(["serve", "--checkpoint", missing], capsys)
    assert "second model named 'imdb'" in error_of([*serve, "--checkpoint", imdb], capsys)
    assert "model name 'a b'" in error_of(["serve", "--checkpoint", f"a b={imdb}"], capsys)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert f"cannot listen on 127.0.0.1:{port}" in error_of([*serve, "--port", port], capsys)
    with pytest.raises(SystemExit) as exit:
        main(["serve"])
    assert exit.value.code == 2


def test_rnnkit_serve_runs_a_server_until_stopped(
    checkpoints: Checkpoints,
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "rnnkit", "serve", "--port", str(port)]
    command += ["--checkpoint", f"reviews={checkpoints[0]}", "--num-threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, process)
        response = httpx.post(f"{url}/v1/reviews/classify", json={"texts": ["A good film."]})
        assert response.json()["results"][0]["label"] == "pos"
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/ (reviews)" in out


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not answer within 60 s")


def test_openapi_describes_the_request_body(client: Any) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/{name}/classify"]["post"]["requestBody"]
    assert json.dumps(body).count("TextsRequest") == 1
