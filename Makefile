# Two commands for a new user: `make demo` and `make test`.
# Both create .venv when it is missing and (re)install only when setup.cfg or
# pyproject.toml changed since the last install (a stamp file records it).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
EXTRAS ?= all

.PHONY: demo test bench dot venv clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# The Graphviz `dot` program renders drawings; the library works without it
# (DOT text only), so a missing `dot` is installed when we can, else explained.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Graphviz (dot) with apt-get ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
		|| echo "Could not install Graphviz; drawings will be written as .dot text only."; \
	else \
		echo "Graphviz 'dot' is missing: drawings are written as .dot text only."; \
		echo "Install it with: sudo apt-get install graphviz   (or: brew install graphviz)"; \
	fi

demo: $(STAMP) dot
	$(BIN)/python -m micrograd_mlp demo main

test: $(STAMP) dot
	$(BIN)/python -m pytest -q

# The peer (micrograd) comes with the default extras; install it only when missing
# instead of re-running the editable install on every call.
bench: $(STAMP) dot
	@$(BIN)/python -c "import micrograd" 2>/dev/null || $(BIN)/python -m pip install --quiet 'micrograd==0.1.0'
	$(BIN)/python demos/benchmark.py

clean:
	rm -rf $(VENV) build *.egg-info demos/out .pytest_cache .hypothesis
