# The course's commands (`make help` lists them). `make lab` opens the course as
# learners see it, creating the Python environment (.venv) first when it is missing
# or stale; it installs only what learners need.
PYTHON ?= python3
VENV ?= .venv
# USE_ENV=/path/to/venv runs every target with an existing environment as it is,
# never installing into it (tests use it to run this Makefile without a new venv).
USE_ENV ?=
ifneq ($(USE_ENV),)
VENV := $(USE_ENV)
STAMP :=
else
# The stamps name the install recipe's version: a new name reinstalls an existing .venv once
# (v2: the install removes rfc3987-syntax; see drop_slow_validator).
STAMP := $(VENV)/.installed-v2
endif
BIN := $(VENV)/bin
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port=8899"
LAB_ARGS ?=
START_NOTEBOOK := notebooks/00-start-here.ipynb

export PATH := $(abspath $(BIN)):$(PATH)
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# One view's Jupyter settings (jupyter/<view>/) first on JUPYTER_CONFIG_PATH, so that they win
# over the environment's and the user's (page config and server extensions alike).
view_config = JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter/$(1)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}"
# jsonschema (which nbformat imports: JupyterLab, nbgrader and the grader all do) imports
# rfc3987-syntax when it is installed, and that module builds about 35 Lark parsers as it loads:
# some 2 s in every such process (python-jsonschema/jsonschema issue 1428). It only checks the
# "iri" formats, which no Jupyter or nbgrader schema uses; without it jsonschema skips them.
drop_slow_validator = $(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax 2>/dev/null || true

.DEFAULT_GOAL := help
.PHONY: lab env clean-env help

# >>> instructor only (tools/publish.py leaves this block out of the learner's edition)
# `make test` runs every test, adding the test-only packages to the same environment.
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k release -x"
PYTEST_ARGS ?=
# What `make grade` grades, and how, e.g. make grade ASSIGNMENT=02-dockerfile GRADE_ARGS="--jobs 4"
ASSIGNMENT ?= 01-vms-and-containers
GRADE_ARGS ?=
# Where `make publish` writes the learner's edition, and the GitHub owner/name it will have.
DEST ?=
REPOSITORY ?=
ifneq ($(USE_ENV),)
TEST_STAMP :=
else
TEST_STAMP := $(VENV)/.installed-test-v2
endif

.PHONY: lab-instructor test test-fast release nav grade publish env-test

INSTRUCTOR := yes

help:
	@echo "make lab             open the course in JupyterLab as learners see it (creates .venv if needed)"
	@echo "make lab-instructor  open it with nbgrader's instructor tools (Formgrader, Create Assignment, ...)"
	@echo "make test            run every test (adds the test packages to .venv if needed)"
	@echo "make test-fast       the quick tier: no browser, Docker, whole cohorts or whole notebooks"
	@echo "make release         regenerate release/ from source/ with nbgrader generate_assignment"
	@echo "make nav             regenerate the navigation cells and the README's lesson table from course.yml"
	@echo "make grade           grade every submission of ASSIGNMENT in parallel, isolated; write grades-ASSIGNMENT.csv"
	@echo "make publish DEST=dir [REPOSITORY=owner/name]  write (or update) the learner's edition, a git repository"

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(drop_slow_validator)
	touch $(TEST_STAMP)

env-test: $(TEST_STAMP)

lab-instructor: $(STAMP)
	$(BIN)/python -m tools.release --gradebook --course-dir "$(CURDIR)"
	mkdir -p .exchange
	$(call view_config,instructor) $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/$(START_NOTEBOOK) $(ROOT_FLAG) $(LAB_ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick tier: no browser, no Docker, no whole cohorts, no whole notebooks (tests/conftest.py's SLOW_TIERS).
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not browser and not docker and not cohort and not notebooks" $(PYTEST_ARGS)

release: $(STAMP)
	$(BIN)/python -m tools.navigation
	$(BIN)/python -m tools.release

grade: $(STAMP)
	$(BIN)/python -m autograder grade $(ASSIGNMENT) $(GRADE_ARGS)
	$(BIN)/python -m autograder export $(ASSIGNMENT) --csv grades-$(ASSIGNMENT).csv

nav: $(STAMP)
	$(BIN)/python -m tools.navigation

publish: $(STAMP)
	@test -n "$(DEST)" || { echo "Say where: make publish DEST=../course-learners [REPOSITORY=owner/name]"; exit 2; }
	$(BIN)/python -m tools.publish "$(DEST)" $(if $(REPOSITORY),--repository "$(REPOSITORY)",)
# <<< instructor only

ifeq ($(INSTRUCTOR),)
help:
	@echo "make lab        open the course in JupyterLab (creates .venv if needed)"
	@echo "make clean-env  remove .venv"
endif

$(STAMP): pyproject.toml jupyter/overrides.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; set PYTHON=/path/to/python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(drop_slow_validator)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

env: $(STAMP) $(TEST_STAMP)

lab: $(STAMP)
	$(call view_config,learner) $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/$(START_NOTEBOOK) $(ROOT_FLAG) $(LAB_ARGS)

clean-env:
	rm -rf $(VENV)
