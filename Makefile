# Two commands: `make demo` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
ENGINE := $(VENV)/bin/exam-engine
DEMO_PASSWORD ?= demo-password

.PHONY: demo test venv install install-test js serve init-db lint bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(VENV)/bin/activate

install: venv
	$(PIP) install --quiet -e .

install-test: venv
	$(PIP) install --quiet -e '.[test]'

js:
	@if [ -f webclient/package.json ]; then cd webclient && npm ci --no-audit --no-fund --silent; fi

init-db: install
	$(ENGINE) init-db

demo: install js init-db
	$(ENGINE) demo --password $(DEMO_PASSWORD)
	$(ENGINE) serve --host 127.0.0.1 --port 5000

test: install-test js
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install-test
	$(PY) -m pytest benchmarks -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache build *.egg-info
