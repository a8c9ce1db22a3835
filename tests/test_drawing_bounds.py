"""A drawing's work is bounded before and during Graphviz: its layout size (drawn
nodes plus the hidden nodes Graphviz adds along long edges) is checked before ``dot``
starts, and every ``dot`` run has a time limit and is killed, with whatever it
started, on timeout, on Ctrl-C and when the command dies."""
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from micrograd_mlp import cli, examples
from micrograd_mlp.core.engine import Value
from micrograd_mlp import errors
from micrograd_mlp.views import graph, stepper

# subprocesses, Graphviz runs and large archives: the slow tier
pytestmark = pytest.mark.slow


def dot_run():
    """The module under test, imported in each test (so that each one fails alone
    where it is missing, rather than the whole file)."""
    from micrograd_mlp.views import dot_run as module
    return module

ROOT = Path(__file__).resolve().parent.parent
HAS_DOT = shutil.which("dot") is not None


def same_sum(n):
    """``a + a + ... + a`` (n terms) with a = 1, after backward."""
    a = Value(1.0, "a")
    out = a
    for _ in range(n - 1):
        out = out + a
    out.label = "out"
    out.backward()
    return out


# ---------------------------------------------------------------- the size bound


def test_layout_size_counts_the_hidden_nodes_of_long_edges():
    # a + a + a: o1 = a + a (rank 1), v1 (rank 2), o2 = v1 + a (rank 3); a sits at
    # rank 0 (one before its first use), so a -> o2 crosses ranks 1 and 2: 2 hidden
    ops = [("v1", ["a", "a"]), ("out", ["v1", "a"])]
    assert dot_run().layout_size(ops, 3) == 3 + 2 + 2
    # n different leaves each used once: no long edge (a leaf sits just before its use)
    ops = [("s1", ["x0", "x1"])] + [(f"s{k}", [f"s{k - 1}", f"x{k}"]) for k in range(2, 50)]
    assert dot_run().layout_size(ops, 50 + 49) == 50 + 49 + 49
    # a + a + ... of n terms: about n^2 hidden nodes
    n = 100
    ops = [("v1", ["a", "a"])] + [(f"v{k}", [f"v{k - 1}", "a"]) for k in range(2, n)]
    assert dot_run().layout_size(ops, n) == n + (n - 1) + sum(2 * k - 2 for k in range(1, n))


def test_the_bound_is_exact_on_a_drawn_graph():
    root = same_sum(3)  # 3 values + 2 operations + 2 hidden = 7
    assert "v1" in graph.draw_dot(root, max_nodes=7).source
    with pytest.raises(errors.DrawingTooLargeError, match="7 nodes.*max_nodes=6"):
        graph.draw_dot(root, max_nodes=6)


def test_a_sum_of_100_terms_is_refused_before_graphviz_with_how_to_draw_it():
    root = same_sum(100)
    start = time.perf_counter()
    with pytest.raises(errors.DrawingTooLargeError) as info:
        graph.draw_dot(root)
    assert time.perf_counter() - start < 5
    msg = str(info.value)
    assert f"max_nodes={dot_run().MAX_NODES}" in msg and "max_nodes=" in msg.split("anyway", 1)[1]
    assert "collapse=True" in msg and "draw_mlp" in msg and ".dot" in msg
    assert info.value.size > dot_run().MAX_NODES
    # the same graph as DOT text needs no Graphviz: written whole, any size
    dot = graph.draw_dot(root, max_nodes=None)
    assert dot.source.count("->") == 3 * 99


def test_render_refuses_too_large_for_images_and_writes_dot_text(tmp_path):
    root = same_sum(100)
    with pytest.raises(errors.DrawingTooLargeError):
        graph.render(root, tmp_path / "g.svg")
    with pytest.raises(errors.DrawingTooLargeError):
        stepper.step_frames(root, collapse=False)
    assert list(tmp_path.iterdir()) == []
    graph.render(root, tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().count("->") == 3 * 99


@pytest.mark.parametrize("name", sorted(examples.EXAMPLES))
def test_the_ready_examples_are_far_under_the_bound(name):
    ex = examples.example_named(name)
    ex.root.backward()
    source = graph.draw_dot(ex.root, collapse=False, max_nodes=dot_run().MAX_NODES // 4).source
    assert source.count("->") > 50


def test_cli_refuses_a_too_large_drawing_with_exit_2_and_the_option(capsys, tmp_path):
    expr = " + ".join(["a"] * 100)
    assert len(expr) < 400  # the size of the report: under 400 characters
    target = tmp_path / "g.svg"
    code = cli.main(["trace", expr, "a=1", "--draw", str(target)])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--max-nodes" in err and ".dot" in err
    assert not target.exists() and list(tmp_path.iterdir()) == []
    code = cli.main(["trace", expr, "a=1", "--draw", str(tmp_path / "g.dot")])
    assert code == 0 and (tmp_path / "g.dot").read_text().count("->") == 3 * 99


# ---------------------------------------------------------------- the time limit


def fake_dot(folder: Path, body: str) -> Path:
    """A ``dot`` program on a PATH of its own: a shell script doing ``body``."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return bin_dir


def slow_dot(tmp_path, monkeypatch):
    """A dot that starts a child (``sleep``) and waits for it: both pids in files."""
    bin_dir = fake_dot(tmp_path, f"""\
        echo $$ > {tmp_path}/dot.pid
        sleep 300 &
        echo $! > {tmp_path}/child.pid
        wait
        """)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "dot.pid", tmp_path / "child.pid"


def gone(pid: int, wait: float = 5.0) -> bool:
    """True once process ``pid`` has ended (a zombie counts as ended)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def wait_for(path: Path, wait: float = 10.0) -> int:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_slow_dot_is_killed_at_the_time_limit_with_its_children(tmp_path, monkeypatch):
    dot_pid, child_pid = slow_dot(tmp_path, monkeypatch)
    a = Value(2.0, "a")
    old = tmp_path / "g.svg"
    old.write_text("an earlier drawing")
    start = time.perf_counter()
    with pytest.raises(errors.DrawingError, match="did not finish within 1 s"):
        graph.render(a * a, old, timeout=1)
    assert time.perf_counter() - start < 10
    assert gone(wait_for(dot_pid)) and gone(wait_for(child_pid))
    assert old.read_text() == "an earlier drawing"  # untouched, no half-written file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "child.pid", "dot.pid", "g.svg"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_dot_kills_it(tmp_path, monkeypatch):
    dot_pid, child_pid = slow_dot(tmp_path, monkeypatch)
    main = threading.main_thread().ident
    timer = threading.Timer(1.0, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dot_run().run_dot("digraph { a -> b }", "svg", timeout=60)
    finally:
        timer.cancel()
    assert gone(wait_for(dot_pid)) and gone(wait_for(child_pid))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_dot_does_not_outlive_a_killed_command(tmp_path):
    bin_dir = fake_dot(tmp_path, f"""\
        echo $$ > {tmp_path}/dot.pid
        exec sleep 300
        """)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "micrograd_mlp", "trace", "a*b", "a=1", "b=2",
                             "--draw", str(tmp_path / "g.svg")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = None
    try:
        pid = wait_for(tmp_path / "dot.pid", wait=60)
        proc.kill()  # SIGKILL: no cleanup runs in the command
        proc.wait()
        assert gone(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if pid is not None and not gone(pid, wait=0.1):  # never leave the sleeper behind
            os.kill(pid, signal.SIGKILL)
    assert not (tmp_path / "g.svg").exists()


def test_a_failing_dot_is_one_line_and_exit_1(capsys, tmp_path, monkeypatch):
    bin_dir = fake_dot(tmp_path, "echo 'Error: syntax error in line 1' >&2\nexit 3\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(errors.DrawingError, match=r"failed \(exit 3\): Error: syntax error"):
        dot_run().run_dot("digraph {", "svg")
    code = cli.main(["trace", "a*b", "a=1", "b=2", "--draw", str(tmp_path / "g.svg")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "exit 3" in err
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")
def test_a_real_dot_still_renders_under_the_limit(tmp_path):
    a = Value(2.0, "a")
    path = graph.render(a * a, tmp_path / "g.svg", timeout=30)
    assert "<svg" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]  # no temporary left
