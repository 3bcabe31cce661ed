# The two commands a user needs: `make demo` and `make test`. Both install into .venv first.
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/lstm-odyssey
STAMP  := $(VENV)/.installed

.PHONY: install test demo bench lint clean

$(STAMP): setup.cfg pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	# torch first and pinned: an unpinned resolve would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

test: install
	$(VENV)/bin/pytest -q

demo: install
	$(CLI) variants

bench: install
	$(CLI) bench kernels

lint: install
	$(VENV)/bin/ruff check lstm_odyssey tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
