# The two commands a user needs: `make demo` and `make test`. Both install into .venv first.
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/lstm-odyssey
STAMP  := $(VENV)/.installed

.PHONY: install test demo bench lint docs clean

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
	# one short training run per task (demo-size data, a few epochs), each printing its record;
	# settings per task so that each beats its trivial baseline in seconds (CTC needs one
	# sequence per update and a high rate to leave the all-blank solution this quickly)
	$(CLI) train --task jsb --hidden 32 --lr 1e-1 --momentum 0.9 --batch-size 1 --max-epochs 4
	$(CLI) train --task timit-synth --hidden 20 --lr 3e-2 --momentum 0.9 --batch-size 4 --max-epochs 2
	$(CLI) train --task handwriting-synth --hidden 48 --lr 5e-2 --momentum 0.9 --batch-size 1 --max-epochs 6
	# the smoke study (resumes if already run) and its report; the last line is the report's path
	$(CLI) sweep studies/smoke.toml
	$(CLI) report studies/smoke.toml

bench: install
	$(CLI) bench kernels

lint: install
	$(VENV)/bin/ruff check lstm_odyssey tests benchmarks

# the documentation site (docs/, mkdocs.yml) into site/; strict: a broken link or reference fails
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build *.egg-info
