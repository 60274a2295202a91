# The course's commands. `make lab` opens the course, `make test` runs every test;
# both create the Python environment (.venv) first when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port=8899"
LAB_ARGS ?=
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k release -x"
PYTEST_ARGS ?=
# What `make grade` grades, and how, e.g. make grade ASSIGNMENT=02-dockerfile GRADE_ARGS="--jobs 4"
ASSIGNMENT ?= 01-vms-and-containers
GRADE_ARGS ?=

export PATH := $(abspath $(BIN)):$(PATH)
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test release nav grade env clean-env help

help:
	@echo "make lab      open the course in JupyterLab (creates .venv if needed)"
	@echo "make test     run every test (creates .venv if needed)"
	@echo "make release  regenerate release/ from source/ with nbgrader generate_assignment"
	@echo "make nav      regenerate every notebook's navigation cells from course.yml"
	@echo "make grade    grade every submission of ASSIGNMENT in parallel, isolated; write grades-ASSIGNMENT.csv"

$(STAMP): pyproject.toml jupyter/overrides.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; set PYTHON=/path/to/python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

env: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00-start-here.ipynb $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

release: $(STAMP)
	$(BIN)/python -m tools.navigation
	$(BIN)/python -m tools.release

grade: $(STAMP)
	$(BIN)/python -m autograder grade $(ASSIGNMENT) $(GRADE_ARGS)
	$(BIN)/python -m autograder export $(ASSIGNMENT) --csv grades-$(ASSIGNMENT).csv

nav: $(STAMP)
	$(BIN)/python -m tools.navigation

clean-env:
	rm -rf $(VENV)
