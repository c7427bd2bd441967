# The course in two commands:  make lab  |  make test
PYTHON ?= python3
PORT ?= 8888
IP ?= localhost
VENV := .venv
BIN := $(VENV)/bin
# tf-gpu when an NVIDIA driver is present (Linux), else the CPU build.
TF_EXTRA ?= $(if $(shell command -v nvidia-smi 2>/dev/null),tf-gpu,tf)
# no browser to open on a headless machine: print the URL (with its token) instead
NO_BROWSER := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
# Jupyter refuses to run as root (containers, cloud machines) unless told it may
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
STAMP := $(VENV)/.installed-$(TF_EXTRA)

PROFILE ?= cpu
# pytest-xdist workers for the test targets (0: no workers, everything in one process)
JOBS ?= 2
XDIST = -n $(JOBS)
PYTHON_CODE := dip_helpers course_tools tests benchmarks docs conftest.py

.PHONY: lab lint test test-tf test-kernels test-cpu test-backends test-browser test-oldest test-colab test-without-tensorflow \
	fmt student slides book install clean help

help:
	@echo "make lab   - install (first time) and open JupyterLab on notebooks/ (PORT=$(PORT))"
	@echo "make test  - unit tests + every notebook under nbval in the ci profile, then the engine on JAX (JOBS=$(JOBS) workers)"
	@echo "make test-tf - make test without the JAX half"
	@echo "make test-kernels - the notebooks and the tests that hang on the CPU kernels (try TF_ENABLE_ONEDNN_OPTS=0 or 1)"
	@echo "make test-cpu - every notebook in the cpu profile; a run that misses its effect fails (about 15 min)"
	@echo "make test-backends - the engine on TensorFlow, JAX and PyTorch (needs: pip install torch)"
	@echo "make test-browser - the sliders in JupyterLab in headless Chromium (needs: apt-get install chromium)"
	@echo "make test-oldest - engine and helper tests on the lowest versions pyproject.toml allows (own venv)"
	@echo "make test-colab  - every notebook through its Colab bootstrap, on Colab's versions (own venv)"
	@echo "make test-without-tensorflow - the command line on Keras and JAX only, no TensorFlow (own venv)"
	@echo "make lint  - ruff check on the code and the notebooks, ruff format --check on the code (part of make test)"
	@echo "make fmt   - put notebooks in canonical form, re-stamp buttons and slide metadata; ruff format the code"
	@echo "make student - the student edition, without solutions, in dist/student/"
	@echo "make slides  - a reveal.js deck per notebook, executed in PROFILE=$(PROFILE), in build/slides/"
	@echo "make book    - the rendered course, every notebook executed in PROFILE=$(PROFILE), in build/book/html/"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; this is " + sys.version.split()[0] + ". Try: make PYTHON=python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(TF_EXTRA),dev]"
	# JupyterLab saves the sliders' state with the notebook, so that a saved notebook shows their pictures
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --port=$(PORT) --ServerApp.ip=$(IP) $(NO_BROWSER) $(ALLOW_ROOT)

test: test-tf
	KERAS_BACKEND=jax DIP_PROFILE=ci MPLBACKEND=Agg $(BIN)/python -m pytest tests/test_engine.py $(XDIST) \
		--timeout=1800 -p no:cacheprovider -ra

# make test's TensorFlow half: the linter, then every test and notebook, on $(JOBS) workers; the slowest 25 tests are
# listed at the end
PYTEST_ARGS ?=
test-tf: lint
	DIP_PROFILE=ci MPLBACKEND=Agg $(BIN)/python -m pytest tests notebooks --ignore=tests/browser --ignore=tests/colab \
		--ignore=tests/without_tensorflow --nbval-lax --nbval-current-env --nbval-cell-timeout=900 --timeout=1800 \
		-p no:cacheprovider -ra --durations=25 $(XDIST) $(PYTEST_ARGS)

# the tests whose outcome hangs on TensorFlow's CPU kernels: every notebook, the engine, its TensorFlow backend, the
# stopping rules and the exercises' answers. CI runs them again with the kernel set its machine does not pick itself
KERNEL_TESTS := tests/test_engine.py tests/test_tensorflow_backend.py tests/test_stopping.py tests/test_exercises.py
test-kernels: $(STAMP)
	DIP_PROFILE=ci MPLBACKEND=Agg $(BIN)/python -m pytest $(KERNEL_TESTS) notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 --timeout=1800 -p no:cacheprovider -ra --durations=10 $(XDIST)

# every notebook in the cpu profile, each check strict: what a laptop run must show (not part of make test)
test-cpu: $(STAMP)
	DIP_PROFILE=cpu DIP_STRICT=1 MPLBACKEND=Agg $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=1800 --timeout=7200 -p no:cacheprovider -ra

# the engine's tests on PyTorch too, and the three backends compared (install torch in .venv first)
test-backends: $(STAMP)
	KERAS_BACKEND=torch DIP_PROFILE=ci MPLBACKEND=Agg $(BIN)/python -m pytest tests/test_engine.py \
		--timeout=1800 -p no:cacheprovider -ra
	DIP_TEST_BACKENDS="tensorflow jax torch" DIP_PROFILE=ci MPLBACKEND=Agg $(BIN)/python -m pytest \
		tests/test_backends.py --timeout=1800 -p no:cacheprovider -ra

# the sliders in JupyterLab, in headless Chromium (Debian's chromium, or DIP_CHROMIUM=path); screenshots in
# build/test-artifacts/browser/
test-browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser --timeout=1800 -p no:cacheprovider -ra

# the engine and helper tests on the lowest versions pyproject.toml allows (tests/versions/oldest.txt)
test-oldest:
	test -x .venv-oldest/bin/python || $(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install --quiet -r tests/versions/oldest.txt
	.venv-oldest/bin/python -m pip install --quiet --no-deps -e .
	DIP_PROFILE=ci MPLBACKEND=Agg .venv-oldest/bin/python -m pytest tests/test_engine.py tests/test_tensorflow_backend.py \
		tests/test_images.py tests/test_metrics.py tests/test_priors.py tests/test_profiles.py tests/test_exercises.py \
		tests/test_plotting.py tests/test_hostile_inputs.py --timeout=1800 -p no:cacheprovider -ra $(XDIST)

# every notebook as Colab runs it: Colab's versions (tests/versions/colab.txt), the bootstrap cell cloning the course
test-colab:
	test -x .venv-colab/bin/python || $(PYTHON) -m venv .venv-colab
	.venv-colab/bin/python -m pip install --quiet -r tests/versions/colab.txt
	.venv-colab/bin/python -m pytest tests/colab --timeout=3600 -p no:cacheprovider -ra

# the command line where only Keras and JAX are installed (pip install -e '.[jax]'): no TensorFlow, no tensorboardX.
# The repository's conftest.py needs nbformat, which is not there: only the folder's own conftest files are read
test-without-tensorflow:
	test -x .venv-jax/bin/python || $(PYTHON) -m venv .venv-jax
	.venv-jax/bin/python -m pip install --quiet -e '.[jax]' pytest pytest-timeout
	.venv-jax/bin/python -m pytest tests/without_tensorflow --confcutdir=tests/without_tensorflow --timeout=1800 \
		-p no:cacheprovider -ra

fmt: $(STAMP)
	$(BIN)/python -m course_tools fmt
	$(BIN)/ruff format $(PYTHON_CODE)

# ruff: every rule on the code and the notebooks' cells; the code (not the notebooks) in ruff's format
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check $(PYTHON_CODE)

student: $(STAMP)
	$(BIN)/python -m course_tools student --out dist/student

slides: $(STAMP)
	$(BIN)/python -m course_tools slides --profile $(PROFILE) --out build/slides

book: $(STAMP)
	$(BIN)/python -m course_tools book --profile $(PROFILE) --out build/book

clean:
	rm -rf $(VENV) .venv-oldest .venv-colab .venv-jax build dist *.egg-info
