"""The HTTP API (FastAPI on uvicorn) and the page at /.

    GET  /                      the page: a panel per model (static files of this package)
    GET  /v1/models             the loaded models, their tasks and endpoints
    POST /v1/NAME/classify      {"texts": [...]} -> {"results": [{"label", "probability",
                                "probabilities"}]}            (sentiment models)
    POST /v1/NAME/tag           {"texts": [...]} -> {"results": [{"text", "entities": [{"type",
                                "start", "end", "text"}], "tokens", "tags"}]}   (NER models)
    POST /v1/NAME/translate     {"texts": [...]} -> {"results": [{"translation"}]}, beam search
                                of width 5                     (translation models)
    POST /v1/NAME/compose       {"steps", "temperature", "top_k", "seed"} -> {"steps": MIDI
                                pitches per quarter note, "midi": base64 MIDI file,
                                "piano_roll": base64 PNG}              (music models)
    POST /v1/NAME/transcribe    a WAV file as the body -> {"text", "symbols", "times" (s),
                                "score"}                               (speech models)
    POST /v1/NAME/generate      {"prime", "length", "temperature", "top_k", "seed"} -> the
                                sampled text as chunked text/plain, a character at a time as
                                each is drawn                      (character text models)
    GET  /health                {"status": "ok", "models": N}
    GET  /metrics               request counts by endpoint and status, latency p50/p99 (ms)
    GET  /openapi.json          the API's OpenAPI description (FastAPI's)

Every error is JSON {"error": "..."} with a 4xx status for bad input (400 malformed JSON or an
unusable text, 404 unknown model or endpoint, 413 too large, 422 wrong types) and 504 when an
answer takes longer than the timeout; an unexpected failure is a 500 with a one-line message,
never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from rnnkit import __version__
from rnnkit.errors import RnnkitError
from rnnkit.serve.batching import MicroBatcher
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.metrics import RequestMetrics
from rnnkit.serve.models import ServedModel

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TextsRequest(BaseModel):
    """The body of /classify and /tag: the texts to run, answered in the same order."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr]


class GenerateRequest(BaseModel):
    """The body of /generate: `rnnkit generate text`'s options."""

    model_config = ConfigDict(extra="forbid")
    prime: StrictStr = ""  # the text the sample continues (not repeated in the answer)
    length: StrictInt = 200  # characters to sample
    temperature: StrictFloat | StrictInt = 1.0  # < 1 sharpens the distribution, > 1 flattens
    top_k: StrictInt | None = None  # sample from the k likeliest characters only
    seed: StrictInt = 0  # the same seed gives the same text


class ComposeRequest(BaseModel):
    """The body of /compose: `rnnkit generate music`'s sampling options."""

    model_config = ConfigDict(extra="forbid")
    steps: StrictInt = 64  # quarter notes to sample
    temperature: StrictFloat | StrictInt = 1.0  # < 1 sharpens the distribution, > 1 flattens
    top_k: StrictInt | None = None  # at most k notes a step, the k likeliest
    seed: StrictInt = 0  # the same seed gives the same piece


class ApiError(Exception):
    """Bad input a client can fix: answered as {"error": message} with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Server:
    """The models, their batchers and the request metrics behind one app."""

    def __init__(self, models: Sequence[ServedModel], config: ServeConfig) -> None:
        self.config = config
        self.models = {m.name: m for m in models}
        self.batchers = {
            m.name: MicroBatcher(m.run, config.batch_wait_ms / 1000.0, config.max_batch)
            for m in models
            if m.run is not None
        }
        self.metrics = RequestMetrics()
        # One thread per music or speech model: its requests run one at a time, off the loop.
        self.workers = {
            m.name: ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-model")
            for m in models
            if m.compose is not None or m.transcribe is not None
        }

    def model(self, name: str, endpoint: str) -> ServedModel:
        model = self.models.get(name)
        if model is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ApiError(404, f"no model named {name!r} (loaded: {known})")
        if model.endpoint != endpoint:
            raise ApiError(
                404,
                f"model {name!r} is a {model.task} model: use /v1/{name}/{model.endpoint}, "
                f"not /{endpoint}",
            )
        return model

    def check_texts(self, texts: list[str]) -> None:
        limit = self.config
        if not texts:
            raise ApiError(400, "texts is empty: give at least one text")
        if len(texts) > limit.max_texts:
            raise ApiError(413, f"{len(texts)} texts, more than the {limit.max_texts} allowed")
        for i, text in enumerate(texts, start=1):
            if not text.strip():
                raise ApiError(400, f"text {i} is empty")
            if len(text) > limit.max_text_chars:
                raise ApiError(
                    413,
                    f"text {i} has {len(text):,} characters, more than the "
                    f"{limit.max_text_chars:,} allowed",
                )

    async def run(self, name: str, endpoint: str, texts: list[str]) -> dict[str, Any]:
        model = self.model(name, endpoint)
        self.check_texts(texts)
        try:
            results = await asyncio.wait_for(
                self.batchers[model.name].submit(texts), self.config.timeout
            )
        except asyncio.TimeoutError:
            raise ApiError(504, f"no answer within {self.config.timeout:g} s") from None
        except RnnkitError as e:
            raise ApiError(400, str(e)) from None
        return {"model": model.name, "results": results}

    def generate(self, name: str, body: GenerateRequest) -> StreamingResponse:
        model = self.model(name, "generate")
        assert model.stream is not None
        if body.length > self.config.max_generate_length:
            raise ApiError(
                413,
                f"length {body.length:,} is more than the {self.config.max_generate_length:,} "
                "characters allowed",
            )
        try:  # the options are checked here, before the response starts
            pieces = model.stream(
                body.prime, body.length, float(body.temperature), body.top_k, body.seed
            )
        except RnnkitError as e:
            raise ApiError(400, str(e).removeprefix("--")) from None
        # A plain iterator: Starlette draws each character on a worker thread.
        return StreamingResponse(pieces, media_type="text/plain; charset=utf-8")

    async def compose(self, name: str, body: ComposeRequest) -> dict[str, Any]:
        model = self.model(name, "compose")
        assert model.compose is not None
        if body.steps > self.config.max_compose_steps:
            raise ApiError(
                413,
                f"{body.steps:,} steps, more than the {self.config.max_compose_steps:,} allowed",
            )
        options = (body.steps, float(body.temperature), body.top_k, body.seed)
        return {"model": model.name, **await self._on_worker(name, model.compose, *options)}

    async def transcribe(self, name: str, wav: bytes) -> dict[str, Any]:
        model = self.model(name, "transcribe")
        assert model.transcribe is not None
        if not wav:
            raise ApiError(400, "empty body: send the WAV file's bytes as the request body")
        return {"model": model.name, **await self._on_worker(name, model.transcribe, wav)}

    async def _on_worker(self, name: str, work: Callable[..., Any], *args: Any) -> Any:
        """work(*args) on the model's own thread, within the timeout."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self.workers[name], work, *args), self.config.timeout
            )
        except asyncio.TimeoutError:
            raise ApiError(504, f"no answer within {self.config.timeout:g} s") from None
        except RnnkitError as e:
            raise ApiError(400, str(e).removeprefix("--")) from None

    def close(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()
        for worker in self.workers.values():
            worker.shutdown(wait=False, cancel_futures=True)


def build_app(models: Sequence[ServedModel], config: ServeConfig | None = None) -> FastAPI:
    """The API and page for loaded models (see the module docstring)."""
    server = Server(models, config or ServeConfig())
    app = FastAPI(
        title="rnnkit serve",
        version=__version__,
        description="Trained rnnkit models over HTTP: " + ", ".join(sorted(server.models)),
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: the server reaches
        # nothing outside itself, so it serves the description only, at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.server = server
    _add_routes(app, server)
    _add_error_handlers(app)
    app.add_middleware(_SizeLimit, limit=server.config.max_request_bytes)
    app.add_middleware(_Timed, metrics=server.metrics)  # the outermost: it times the others
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.add_event_handler("shutdown", server.close)
    return app


def _add_routes(app: FastAPI, server: Server) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/v1/models", summary="The loaded models")
    async def list_models() -> dict[str, Any]:
        return {"models": [m.describe() for m in server.models.values()]}

    @app.post("/v1/{name}/classify", summary="Classify texts (sentiment models)")
    async def classify(name: str, body: TextsRequest) -> dict[str, Any]:
        return await server.run(name, "classify", body.texts)

    @app.post("/v1/{name}/tag", summary="Tag the entities of texts (NER models)")
    async def tag(name: str, body: TextsRequest) -> dict[str, Any]:
        return await server.run(name, "tag", body.texts)

    @app.post("/v1/{name}/translate", summary="Translate sentences (translation models)")
    async def translate(name: str, body: TextsRequest) -> dict[str, Any]:
        return await server.run(name, "translate", body.texts)

    @app.post(
        "/v1/{name}/generate",
        summary="Sample text, streamed as it is drawn (character text models)",
        response_class=StreamingResponse,
    )
    async def generate(name: str, body: GenerateRequest) -> StreamingResponse:
        return server.generate(name, body)

    @app.post("/v1/{name}/compose", summary="Compose a piece: MIDI and piano roll (music)")
    async def compose(name: str, body: ComposeRequest) -> dict[str, Any]:
        return await server.compose(name, body)

    @app.post(
        "/v1/{name}/transcribe",
        summary="Transcribe a WAV file sent as the request body (speech models)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def transcribe(name: str, request: Request) -> dict[str, Any]:
        return await server.transcribe(name, await request.body())

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(server.models)}

    @app.get("/metrics", summary="Request counts and latencies")
    async def metrics() -> dict[str, Any]:
        batching = {
            name: {"model_calls": b.calls, "texts": b.batched_texts}
            for name, b in server.batchers.items()
        }
        return {**server.metrics.snapshot(), "batching": batching}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.message}, status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
        if first.get("type") == "json_invalid":
            return JSONResponse({"error": f"malformed JSON: {first['msg']}"}, status_code=400)
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "body"
        return JSONResponse({"error": f"{where}: {first['msg']}"}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        log.error("internal error on %s: %s", request.url.path, e)
        return JSONResponse({"error": "internal error (see the server log)"}, status_code=500)


class _TooLarge(HTTPException):
    """A streamed body passed the limit while the app read it (FastAPI passes an
    HTTPException raised by the body reader on to the handlers: a 413, not a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the {limit:,} bytes allowed")


class _SizeLimit:
    """413 for a request body over `limit` bytes: at once from Content-Length, or as soon as
    a streamed (chunked) body passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse({"error": _TooLarge(self.limit).detail}, status_code=413)
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Timed:
    """Records each request's endpoint (its route, e.g. /v1/{name}/classify), status and
    latency in the metrics."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "(no route)"
            self.metrics.record(
                f"{scope['method']} {endpoint}", status, time.perf_counter() - start
            )
