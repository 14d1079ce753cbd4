# OpenRounds: `make demo` runs the platform with demo data; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test venv bench messages clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/venv.sh
	bash scripts/venv.sh
	touch $@

demo: venv
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv -v0
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

test: venv
	bash scripts/test.sh

bench: venv
	bash scripts/bench.sh

messages: venv
	DEBUG=1 $(PY) manage.py makemessages -l fr -l pt -l ar --ignore=.venv --ignore=var --ignore=node_modules
	DEBUG=1 $(PY) manage.py makemessages -d djangojs -l fr -l pt -l ar --ignore=.venv --ignore=var --ignore=node_modules

clean:
	rm -rf $(VENV) var
