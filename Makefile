# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
ADDRESS ?= 0.0.0.0
PORT    ?= 8501
PROCESSES ?= $(shell nproc)
PYTEST_ARGS ?=

.PHONY: run run-multi test lint format bench screenshots assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# The stamp files re-run pip only when the requirements change.
$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m cnnviz.ui.serve --server.address $(ADDRESS) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# PROCESSES Streamlit processes (one per core) on PORT+1... behind nginx on ADDRESS:PORT
# (deploy/nginx.conf; needs Debian's nginx: apt-get install -y nginx).
run-multi: $(VENV)/.installed
	$(BIN)/python deploy/run_multi.py --processes $(PROCESSES) --address $(ADDRESS) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/receptive_field.py

screenshots: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/e2e -k screenshot --screenshots assets

# The Explain page's default model (LeNet-5 on digits), seeded: assets/lenet5_digits.pt
assets: $(VENV)/.installed
	$(BIN)/python -m cnnviz.explain.default_model

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
