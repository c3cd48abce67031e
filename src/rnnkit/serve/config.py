"""The server's settings: one frozen dataclass, checked where it is made."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class ServeConfig:
    # Requests for one model arriving within this many milliseconds of the first waiting one
    # run as one batch (one model call); 0 runs every request on its own.
    batch_wait_ms: float = 5.0
    # The most texts one model call takes: a batch closes early when it holds this many.
    max_batch: int = 64
    # The largest request body accepted, in bytes; a larger one gets 413.
    max_request_bytes: int = 1_000_000
    # The most texts one request may hold.
    max_texts: int = 64
    # The longest text, in characters.
    max_text_chars: int = 20_000
    # Seconds a request may wait for its answer (queue and model call) before it gets 504.
    timeout: float = 30.0
    # The most characters one generation request may ask for.
    max_generate_length: int = 5_000
    # The most steps (quarter notes) one music request may ask for.
    max_compose_steps: int = 1_024

    def __post_init__(self) -> None:
        if self.batch_wait_ms < 0:
            raise RnnkitError(f"--batch-wait-ms must be 0 or more, got {self.batch_wait_ms}")
        counts = ("max_batch", "max_request_bytes", "max_texts", "max_text_chars")
        for name in (*counts, "max_generate_length", "max_compose_steps"):
            if getattr(self, name) < 1:
                option = "--" + name.replace("_", "-")
                raise RnnkitError(f"{option} must be at least 1, got {getattr(self, name)}")
        if not self.timeout > 0:
            raise RnnkitError(f"--timeout must be more than 0 seconds, got {self.timeout}")
