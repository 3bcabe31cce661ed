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
	# the three free datasets at demo size (cached under datasets/; instant when cached)
	@for t in jsb timit-synth handwriting-synth; do $(CLI) data prepare $$t || exit 1; done
	# one short training run per task (demo-size data, 2 epochs), each printing its record
	@for t in jsb timit-synth handwriting-synth; do \
		$(CLI) train --task $$t --hidden 20 --lr 3e-2 --momentum 0.9 --batch-size 4 --max-epochs 2 || exit 1; \
	done
	# the smoke study (resumes if already run) and its report; the last line is the report's path
	$(CLI) sweep studies/smoke.toml
	$(CLI) report studies/smoke.toml

bench: install
	$(CLI) bench kernels

lint: install
	$(VENV)/bin/ruff check lstm_odyssey tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
