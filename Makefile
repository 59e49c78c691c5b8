# The course's commands. Each target sets up .venv on first use, and again only when
# pyproject.toml changes (the stamp file .venv/.installed records the last install).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CELL_TIMEOUT ?= 180
# Jupyter refuses to run as root (containers, CI) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

.PHONY: setup lab test unit notebooks lint report check clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) $(LAB_ARGS) notebooks/

lint: $(STAMP)
	$(BIN)/ruff check helpers tests notebooks

unit: $(STAMP)
	$(BIN)/python -m pytest tests/

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider notebooks/

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
	rm -rf $(VENV) build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
