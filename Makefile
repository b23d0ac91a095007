# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
ADDRESS ?= 0.0.0.0
PORT    ?= 8501
PROCESSES ?= $(shell nproc)
PYTEST_ARGS ?=
# The class code students type once per browser (cnnviz/server/access.py). Unset: a fresh one
# is generated and printed at each start, unless ADDRESS is 127.0.0.1 (nobody else can come).
CLASS_CODE ?=
CLASS_ENV = $(if $(CLASS_CODE),CNNVIZ_CLASS_CODE='$(CLASS_CODE)')

.PHONY: run run-multi test test-fast lint format bench screenshots assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# The stamp files re-run pip only when the requirements change.
# Online, set-up also fetches the default backbone's ImageNet weights (one file, hash
# checked, short timeouts); offline it says so in one line and the app uses the synthetic
# backbone shipped in assets/.
$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	$(BIN)/python -m cnnviz fetch-weights --setup
	touch $@

$(VENV)/.installed-ray: requirements-ray.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-ray.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements-ray.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(CLASS_ENV) $(BIN)/python -m cnnviz.server.serve --server.address $(ADDRESS) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# PROCESSES Streamlit processes (one per core) on PORT+1... behind nginx on ADDRESS:PORT
# (deploy/nginx.conf; needs Debian's nginx: apt-get install -y nginx), their jobs in one
# queue per device on a local Ray head (JOBS=ray://HOST:PORT: a Ray cluster's; JOBS=threads:
# a queue per process).
JOBS ?= ray
run-multi: $(VENV)/.installed-ray
	$(CLASS_ENV) $(BIN)/python deploy/run_multi.py --processes $(PROCESSES) --address $(ADDRESS) --port $(PORT) \
		--jobs $(JOBS)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit and AppTest suite without what runs a process of its own (browser, nginx, servers,
# CLI subprocesses: marker e2e), on two workers: the check to run after each change.
test-fast: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -m "not e2e" -n 2 $(PYTEST_ARGS)

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

# The Explain page's default model (LeNet-5 on digits, seconds) and the synthetic backbone
# (resnet18 pretrained on fractals, about 20 minutes on 2 cores), seeded:
# assets/lenet5_digits.pt, assets/resnet18_synthetic.pt and its card (.json)
assets: $(VENV)/.installed
	$(BIN)/python -m cnnviz.explain.default_model
	$(BIN)/python -m cnnviz.synthetic

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
