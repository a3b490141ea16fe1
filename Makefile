# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format migrate bench clean translations mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,test]'
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/flask --app app --debug migrate

run: migrate
	$(BIN)/python -m devtools.devserver

# One worker per core, each test file on one worker (module fixtures such as the live
# server and the Nu checker's run are built once); TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-extract the strings, merge them into each catalogue, compile the .mo files (committed).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-wrap --sort-by-file \
		--project Weprode -o weprode/translations/messages.pot .
	$(BIN)/pybabel update -i weprode/translations/messages.pot -d weprode/translations --no-wrap
	$(BIN)/pybabel compile -d weprode/translations --statistics

# Mutation testing of the modules that keep the legal promises (slow: tens of minutes).
# MODULES=weprode/tokens.py runs one module; the report is devtools/mutation/REPORT.md.
MUTATION_STAMP := $(VENV)/.mutation-stamp

$(MUTATION_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,test,mutation]'
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	$(BIN)/python -m devtools.mutation.run $(MODULES)

bench: $(STAMP)
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants
