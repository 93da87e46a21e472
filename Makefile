# Two commands set everything up on a fresh machine: `make train` and `make test`.
# The venv is created once; packages are (re)installed only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?= experiment=keras_tutorial
TEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install train test lint format tensorboard bench strip-notebooks clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first (CPU build from local disk): the project's pin is then already satisfied.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(PY) -m lstm_imdb.train $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(TEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check lstm_imdb tests
	$(PY) -m ruff format --check lstm_imdb tests

format: $(STAMP)
	$(PY) -m ruff format lstm_imdb tests
	$(PY) -m ruff check --fix lstm_imdb tests

tensorboard: $(STAMP)
	$(VENV)/bin/tensorboard --logdir logs --host 127.0.0.1 --port 6006

bench: $(STAMP)
	$(PY) -m lstm_imdb.bench $(BENCH_ARGS)

# notebooks are stored without outputs (`nbstripout --install` strips them on every commit)
strip-notebooks: $(STAMP)
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:
	rm -rf logs .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
