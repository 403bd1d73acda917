# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := examples/fraud

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The demo is a dbt project that installs this package as yours would (examples/fraud/packages.yml).
demo: $(STAMP)
	$(BIN)/fwctl demo --project-dir $(DEMO)

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf target data logs .pytest_cache .hypothesis $(DEMO)/target $(DEMO)/data $(DEMO)/logs $(DEMO)/dbt_packages
