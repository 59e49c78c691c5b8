# The course's commands. Each target sets up .venv on first use, and again only when
# pyproject.toml changes (the stamp file .venv/.installed records the last install).
# `make test PYTHON=python3.13` (or a path) runs the same on another Python, in its own
# virtualenv named after its version (.venv-3.13), so each Python keeps its installs.
ifeq ($(origin PYTHON),undefined)
PYTHON := python3
VENV := .venv
else
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYTHON_VERSION),)
$(error PYTHON=$(PYTHON) does not run; give a Python 3.11 or newer, e.g. PYTHON=python3.13 or a full path)
endif
VENV := .venv-$(PYTHON_VERSION)
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CELL_TIMEOUT ?= 180
# Jupyter refuses to run as root (containers, CI) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

.PHONY: setup lab test unit notebooks notebooks-unsolved lint report check clean

setup: $(STAMP)

# The course's JupyterLab settings (no news or update pop-ups) go into the course's own
# environment, never into the learner's ~/.jupyter.
$(STAMP): pyproject.toml jupyter/lab/settings/overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/lab/settings/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) $(LAB_ARGS) notebooks/

lint: $(STAMP)
	$(BIN)/ruff check helpers tests notebooks

unit: $(STAMP)
	$(BIN)/python -m pytest tests/

# Every notebook under nbval, then tests/test_leftovers.py: what the run left behind (issue 16).
NBVAL := $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider
notebooks: $(STAMP)
	$(NBVAL) notebooks/ tests/test_leftovers.py::test_the_notebooks_left_nothing_behind

# The same with every solution cell removed: unanswered exercises must raise nothing.
notebooks-unsolved: $(STAMP)
	rm -rf build/unsolved
	$(BIN)/python tests/strip_solutions.py notebooks build/unsolved
	$(NBVAL) build/unsolved/
	rm -rf build/unsolved

test: lint unit notebooks

# One nbconvert per notebook, so a failing lesson still leaves the others' handouts; make
# fails at the end if any did. nbconvert embeds each chart in the HTML as a PNG data URI.
report: $(STAMP)
	mkdir -p build
	@status=0; for nb in notebooks/*.ipynb; do \
		$(BIN)/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=$(CELL_TIMEOUT) \
			--output-dir build "$$nb" || { echo "report: $$nb failed" >&2; status=1; }; \
	done; exit $$status

check: $(STAMP)
	$(BIN)/python -m helpers check

clean:
	rm -rf .venv .venv-[0-9]* build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
