"""The quiz page (``trace ... --html page.html --quiz``) driven in headless Chromium:
typed answers are judged by the page's own script (``?autotest=Q:value;...`` types
them and writes the outcome as JSON into ``#autotest``)."""
import html
import json
import re
import shutil
import subprocess

import pytest

from micrograd_mlp.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = [
    pytest.mark.slow,  # drives Chromium
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (make chromium installs it)"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is needed for the drawings"),
]


@pytest.fixture(scope="module")
def quiz_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quiz")
    page = folder / "task5_quiz.html"
    assert main(["trace", "task5", "--html", str(page), "--quiz"]) == 0
    return page


def questions(page):
    """{question name: its number} read from the page."""
    text = page.read_text(encoding="utf-8")
    found = re.findall(r'<tr class="q" data-q="(\d+)".*?aria-label="([^"]+)"', text)
    return {html.unescape(name): int(q) for q, name in found}


def drive(page, profile, answers="", fragment=""):
    """Open the page in headless Chromium with ``?autotest=answers`` and return the
    JSON the page's script wrote (a fresh browser process every time; ``profile``
    holds localStorage between calls, as a student's browser would)."""
    url = page.as_uri() + f"?autotest={answers}" + (f"#{fragment}" if fragment else "")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={profile}", "--window-size=1200,900",
                           "--dump-dom", url], capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="autotest"[^>]*>(.*?)</pre>', done.stdout, re.S)
    assert m, f"the page wrote no result; stderr: {done.stderr[-500:]}"
    return json.loads(html.unescape(m.group(1)))


def test_page_is_one_offline_file_with_every_number_asked(quiz_page):
    text = quiz_page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "<script src" not in text
    q = questions(quiz_page)
    assert len(q) == 11 + 34  # Task 5: 11 forward numbers, 34 backward
    assert list(q.values()) == list(range(len(q)))
    assert "dE/dW1[2,1]" in q and "sigma'(s1[0])" in q


def test_right_wrong_retry_reveal_score_and_reload(quiz_page, tmp_path):
    q = questions(quiz_page)
    profile = tmp_path / "browser"
    first = drive(quiz_page, profile,
                  f"{q['dE/ds2[0]']}:0.1105;{q['dE/ds2[1]']}:0.0515;{q['x1[0]']}:abc")
    right, wrong, unreadable = first["answers"]
    assert right["verdict"] == "right" and "right" in right["cls"].split()
    assert right["feedback"].startswith("right: dE/ds2[0] = dE/dx2[0] * sigma'(s2[0])")
    assert wrong["verdict"] == "wrong" and "wrong" in wrong["cls"].split()
    # the hint: the upstream value and the local factor the number is built from
    assert "dE/dx2[1] * sigma'(s2[1]) = (-0.2645) * 0.1946" in wrong["feedback"]
    assert "sign" in wrong["feedback"]
    assert "-0.0515" not in wrong["feedback"]  # the answer itself stays hidden
    assert unreadable["verdict"] == "unreadable"
    assert first["score"] == {"right": 1, "first": 1, "revealed": 0, "total": 45}

    # a reload (a new browser process, same profile) keeps the progress
    again = drive(quiz_page, profile)
    assert again["states"][str(q["dE/ds2[0]"])]["s"] == "right"
    assert again["states"][str(q["dE/ds2[1]"])]["s"] == "wrong"
    assert again["score"]["right"] == 1

    # retry the wrong one, reveal another
    last = drive(quiz_page, profile, f"{q['dE/ds2[1]']}:-0.0515;{q['dE/dW2[0,0]']}:reveal")
    assert last["answers"][0]["verdict"] == "right"
    assert last["answers"][1]["verdict"] == "revealed"
    assert last["score"] == {"right": 2, "first": 1, "revealed": 1, "total": 45}


@pytest.mark.parametrize("typed, verdict", [
    ("0.1105", "right"), ("0.1104", "right"), ("0,1105", "right"), ("0.110457", "right"),
    ("0.1107", "wrong"), ("0.11", "short"), ("-0.1105", "wrong"), ("0.2209", "wrong"),
])
def test_judged_at_the_digits_shown(quiz_page, tmp_path, typed, verdict):
    q = questions(quiz_page)
    out = drive(quiz_page, tmp_path / "browser", f"{q['dE/ds2[0]']}:{typed}")
    assert out["answers"][0]["verdict"] == verdict
    if typed == "0.2209":
        assert "factor 2" in out["answers"][0]["feedback"]


def test_step_in_the_address(quiz_page, tmp_path):
    out = drive(quiz_page, tmp_path / "browser", fragment="step=8")
    assert out["step"] == 8 and out["visible"] == [8]
