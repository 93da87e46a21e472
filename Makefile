# Two commands set everything up on a fresh machine: `make train` and `make test`.
# The venv is created once; packages are (re)installed only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?= experiment=keras_tutorial
TEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install train test test-fast lint format tensorboard optuna-dashboard notebook mlflow-ui bench bench-keras strip-notebooks clean

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

# the unit tests only (tests/unit: no subprocess, no training run), for the edit-test loop
test-fast: $(STAMP)
	$(PY) -m pytest tests/unit -m "not network" -q $(TEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check lstm_imdb tests
	$(PY) -m ruff format --check lstm_imdb tests

format: $(STAMP)
	$(PY) -m ruff format lstm_imdb tests
	$(PY) -m ruff check --fix lstm_imdb tests

# SCALARS with the curves unsmoothed (5 points a curve): the link below
tensorboard: $(STAMP)
	@echo "TensorBoard: http://127.0.0.1:6006/  (curves unsmoothed: http://127.0.0.1:6006/#scalars&_smoothingWeight=0)"
	$(VENV)/bin/tensorboard --logdir logs --host 127.0.0.1 --port 6006

# optuna-dashboard on a study's storage (hparams_search=optuna with hydra.sweeper.storage=...): the trials, live
OPTUNA_STORAGE ?= sqlite:///logs/optuna.db
optuna-dashboard: $(STAMP)
	$(VENV)/bin/optuna-dashboard --host 127.0.0.1 --port 8080 $(subst journal:,,$(OPTUNA_STORAGE))

# MLflow's UI on logs/mlflow.db (logger=mlflow): full MLflow pins another pyarrow, so it lives in its own venv
MLFLOW_VENV := .venv-mlflow
$(MLFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet mlflow==3.17.2
	touch $@

mlflow-ui: $(MLFLOW_VENV)/.installed
	$(MLFLOW_VENV)/bin/mlflow ui --backend-store-uri sqlite:///logs/mlflow.db --host 127.0.0.1 --port 5000

# JupyterLab on notebooks/ (installed into .venv on first use: the `notebook` extra)
NB_STAMP := $(VENV)/.notebook-installed
$(NB_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,notebook]'
	touch $@

notebook: $(NB_STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1

bench: $(STAMP)
	$(PY) -m lstm_imdb.tools.bench $(BENCH_ARGS)

# The same bench plus the seed's Keras code (benchmarks/keras_tutorial.py), timed in the same session.
# TensorFlow lives in its own venv, never in the project's.
KERAS_VENV := .venv-keras
$(KERAS_VENV)/.installed:
	$(PYTHON) -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/python -m pip install --quiet tensorflow-cpu==2.21.0
	touch $@

bench-keras: $(STAMP) $(KERAS_VENV)/.installed
	$(PY) -m lstm_imdb.tools.bench --keras-python $(KERAS_VENV)/bin/python $(BENCH_ARGS)

# notebooks are stored without outputs (`nbstripout --install` strips them on every commit)
strip-notebooks: $(STAMP)
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:
	rm -rf logs .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
