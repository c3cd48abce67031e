# Set-up and the two everyday jobs. `make demo` and `make test` each create the virtual
# environment on first use (torch's CPU build, the package with its extras), then run.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.rnnkit-installed

.PHONY: setup demo test typecheck lint bench clean browser-deps

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: train the chorale model (music21's Bach chorales), then write a sample.
demo: $(STAMP)
	$(BIN)/rnnkit train music --overwrite  # a second `make demo` replaces the first demo run
	$(BIN)/rnnkit generate music --checkpoint runs/music/best --steps 64 --out sample.mid

# The headless browser of tests/test_serve_browser.py (Debian's chromium and chromedriver),
# installed where apt-get runs as root; elsewhere those tests are skipped, with the reason.
browser-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "browser-deps: chromium and chromedriver are installed"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && apt-get install -y -q chromium chromium-driver \
			|| echo "browser-deps: apt-get failed; the browser tests will be skipped"; \
	else \
		echo "browser-deps: no apt-get as root here; the browser tests will be skipped"; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

typecheck: $(STAMP)
	$(BIN)/python -m mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The benchmarks read the data folder beside the repository (rnnkit never searches for it).
bench: export RNNKIT_SHARED_DATA ?= $(abspath ../shared/data)
bench: $(STAMP)
	$(BIN)/python benchmarks/layers.py
	$(BIN)/python benchmarks/music_jsb.py

clean:
	rm -rf $(VENV) runs sample.mid sample.png
