# Two commands for a new user: `make demo` and `make test`.
# Both create .venv when it is missing and install what they need: `demo` the demo
# extra (no torch, no test tools), `test` the test extra (a superset). Each extra has
# its own stamp file, (re)installed only when setup.cfg or pyproject.toml changed
# since; an up-to-date test install also satisfies `demo`, so switching between the
# two targets installs nothing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
# the targets beyond demo and test (bench ...) use the full test install
STAMP  := $(STAMP_TEST)

.PHONY: demo test bench dot chromium venv clean

venv: $(STAMP_DEMO)

# $(call install,EXTRA): one shell command creating the venv if needed and installing
# the package with that extra
install = (test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)) \
	&& $(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel \
	&& $(BIN)/python -m pip install --quiet -e '.[$(1)]'

$(STAMP_TEST): setup.cfg pyproject.toml
	$(call install,test)
	@touch $@

# the test extra holds the demo extra: a current test install needs nothing more
$(STAMP_DEMO): setup.cfg pyproject.toml
	@if [ -f $(STAMP_TEST) ] && [ $(STAMP_TEST) -nt setup.cfg ] && [ $(STAMP_TEST) -nt pyproject.toml ]; \
	then echo "demo extra: already in the test install"; else $(call install,demo); fi
	@touch $@

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

# Headless Chromium drives the quiz page in the tests (they skip without it); a missing
# browser is installed when we can, else explained.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Chromium with apt-get (for the quiz page tests) ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Could not install Chromium; the quiz page tests will be skipped."; \
	else \
		echo "Chromium is missing: the quiz page tests are skipped."; \
		echo "Install it with: sudo apt-get install chromium"; \
	fi

demo: $(STAMP_DEMO) dot
	$(BIN)/python -m micrograd_mlp demo main

test: $(STAMP_TEST) dot chromium
	$(BIN)/python -m pytest -q

# The peer (micrograd) comes with the default extras; install it only when missing
# instead of re-running the editable install on every call.
bench: $(STAMP) dot
	@$(BIN)/python -c "import micrograd" 2>/dev/null || $(BIN)/python -m pip install --quiet 'micrograd==0.1.0'
	$(BIN)/python demos/benchmark.py

clean:
	rm -rf $(VENV) build *.egg-info demos/out .pytest_cache .hypothesis
