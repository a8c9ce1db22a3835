"""Every ```bash block of README.md and docs/*.md whose lines are ``micrograd-mlp``
commands (and the ``printf``/``mkdir``/``cp`` lines that prepare their files) runs as
written, page by page in one temporary folder. A folder holds an ``answers.txt`` (the
answers file the docs' ``check`` lines read); a ``check`` may exit 1 (a wrong number is
a result), every other command must exit 0. Blocks of other commands (``make``,
``python demos/...``) are examples of long runs and are not run here; a synopsis with
optional parts (``[--hidden 4]``) is a ```text block, not a command."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd_mlp import cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
RUNNABLE = ("micrograd-mlp ", "printf ", "mkdir ", "cp ")
SLOW = ("demo ", "--frames", "--html", "--quiz")  # long runs: Chromium/Graphviz heavy
SERVERS = ("micrograd-mlp studio",)  # serve until Ctrl-C: their options are parsed, not run


def commands(page):
    out = []
    for m in BLOCK.finditer(page.read_text(encoding="utf-8")):
        lines = [l for l in m.group(1).splitlines() if l.strip()]
        if lines and all(l.startswith(RUNNABLE) for l in lines):
            out += lines
    return out


CASES = [(p, c) for p in PAGES for c in [commands(p)] if c]


@pytest.mark.parametrize("page, lines", CASES, ids=[p.name for p, _ in CASES])
def test_bash_blocks_run_as_written(page, lines, tmp_path, monkeypatch, capsys):
    (tmp_path / "answers.txt").write_text("E = 0.1348\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for line in lines:
        command = line.split("  #")[0].strip()
        if any(s in command for s in SLOW):
            continue
        allowed = (0, 1) if " check " in f" {command} " else (0,)
        if command.startswith(SERVERS):
            args = cli._build_parser().parse_args(shlex.split(command)[1:])  # exits 2 if wrong
            assert args.command == "studio"
            continue
        if command.startswith("micrograd-mlp ") and not re.search(r"[<>|]", command):
            try:  # in this process: no start-up cost
                code = cli.main(shlex.split(command)[1:])
            except SystemExit as stop:  # --version, --help
                code = stop.code
            err = capsys.readouterr().err
        else:  # shell syntax (a redirection) or a preparing command: through the shell
            shell = re.sub(r"^micrograd-mlp ", f"{shlex.quote(sys.executable)} -m micrograd_mlp ",
                           command)
            done = subprocess.run(shell, shell=True, cwd=tmp_path, env=env, capture_output=True,
                                  timeout=300)
            code, err = done.returncode, done.stderr.decode()
        assert code in allowed, f"{page.name}: {command}\n{err[-400:]}"
