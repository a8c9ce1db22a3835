"""Rules the test suite itself keeps: no test swallows an error (``try: ... except ...:
pass``), no random generator is seeded from ``hash()`` (salted per process, so the
inputs would change from run to run), and the slow marker is registered."""
import configparser
import pathlib
import re

TESTS = pathlib.Path(__file__).resolve().parent
ROOT = TESTS.parent


def _sources():
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(TESTS.rglob("*.py"))}


def test_no_test_swallows_an_error():
    swallowed = [name for name, text in _sources().items()
                 if re.search(r"except[^\n]*:\s*\n\s+pass\b", text)]
    assert swallowed == []


def test_no_generator_is_seeded_from_hash():
    seeded = [name for name, text in _sources().items()
              if re.search(r"\bhash\(", text) and name != "tests/test_suite_rules.py"]
    assert seeded == []


def test_the_slow_marker_is_registered_and_make_test_fast_leaves_it_out():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert re.search(r"^slow:", cfg["tool:pytest"]["markers"].strip(), re.M)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r'^test-fast:.*\n\t.*pytest .*-m "not slow"', makefile, re.M)
    assert re.search(r"^\.PHONY:.* test-fast", makefile, re.M)
