"""Everything a command writes appears only when complete: an interrupted run (Ctrl-C
or a failure half way) leaves no half-written file and no partial frames folder, and
a re-run into the same folder replaces the earlier frames instead of mixing them."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd_mlp import cli
from micrograd_mlp.core.engine import Value
from micrograd_mlp.views import graph, stepper

# subprocesses, Graphviz runs and large archives: the slow tier
pytestmark = pytest.mark.slow

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")


def chain(n):
    """``tanh(... tanh(x * w) ...)``: n + 1 backward steps at the primitive level."""
    x, w = Value(0.5, "x"), Value(-1.5, "w")
    out = x * w
    for _ in range(n):
        out = out.tanh()
    out.label = "out"
    out.backward()
    return out


def snapshot(folder: Path):
    """{name: bytes} of every file in ``folder`` (None when there is no folder)."""
    if not folder.exists():
        return None
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def leftovers(folder: Path):
    """Temporary files or folders (the ``.NAME.*.part`` of a write) under ``folder``."""
    return [str(p) for p in folder.rglob("*") if p.name.endswith(".part")]


def interrupt_on_call(monkeypatch, module, name, k):
    """Make ``module.name`` raise KeyboardInterrupt on its k-th call (Ctrl-C there)."""
    real = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == k:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# ---------------------------------------------------------------- frames folders


def test_ctrl_c_mid_frames_leaves_no_folder_and_no_temporary(tmp_path, monkeypatch):
    root = chain(6)
    frames = stepper.step_frames(root, collapse=False)
    interrupt_on_call(monkeypatch, stepper, "render", 4)  # the 4th frame's writer
    with pytest.raises(KeyboardInterrupt):
        stepper.write_frames(root, tmp_path / "frames", formats=("dot",), frames=frames)
    assert not (tmp_path / "frames").exists()
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_mid_rerun_keeps_the_earlier_complete_set(tmp_path, monkeypatch):
    folder = tmp_path / "frames"
    stepper.write_frames(chain(2), folder, formats=("dot",))
    before = snapshot(folder)
    assert len(before) == 5  # frames 000-003 and captions.txt
    interrupt_on_call(monkeypatch, stepper, "render", 3)
    with pytest.raises(KeyboardInterrupt):
        stepper.write_frames(chain(6), folder, formats=("dot",))
    assert snapshot(folder) == before
    assert leftovers(tmp_path) == []


def test_a_rerun_with_fewer_frames_replaces_the_old_ones(tmp_path):
    folder = tmp_path / "frames"
    long = stepper.write_frames(chain(6), folder, formats=("dot", "gv"))
    assert len(long) == 2 * 8
    (folder / "my notes.txt").write_text("mine")
    short = stepper.write_frames(chain(1), folder, formats=("dot",))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["captions.txt", "frame_000.dot", "frame_001.dot", "frame_002.dot",
                     "my notes.txt"]
    assert short == [folder / n for n in names[1:4]]
    captions = (folder / "captions.txt").read_text()
    assert "[frame 002]" in captions and "[frame 003]" not in captions
    assert (folder / "my notes.txt").read_text() == "mine"


def test_write_frames_refuses_a_file_as_its_folder(tmp_path):
    target = tmp_path / "frames"
    target.write_text("not a folder")
    with pytest.raises(Exception, match="is a file"):
        stepper.write_frames(chain(1), target, formats=("dot",))
    assert target.read_text() == "not a folder"


@needs_dot
def test_trace_frames_interrupted_then_rerun(capsys, tmp_path, monkeypatch):
    # Ctrl-C while the 4th PNG is made: nothing in DIR, no GIF, no captions; exit 130
    folder = tmp_path / "frames"
    calls = interrupt_on_call(monkeypatch, stepper, "_pipe", 5)
    code = cli.main(["trace", "tanh(a*b) + b", "a=1", "b=-2", "--level", "primitive",
                     "--frames", str(folder)])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and len(calls) == 5
    assert not folder.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # a complete run, then a shorter one into the same folder: only the new set
    assert cli.main(["trace", "tanh(a*b) + b", "a=1", "b=-2", "--level", "primitive",
                     "--frames", str(folder)]) == 0
    n_long = len(list(folder.glob("frame_*.png")))
    assert cli.main(["trace", "a*b", "a=1", "b=-2", "--frames", str(folder)]) == 0
    pngs = sorted(p.name for p in folder.glob("frame_*.png"))
    svgs = sorted(p.name for p in folder.glob("frame_*.svg"))
    assert n_long > len(pngs) and pngs == [f"frame_{k:03d}.png" for k in range(len(pngs))]
    assert [s.replace(".svg", ".png") for s in svgs] == pngs
    from PIL import Image
    with Image.open(folder / "steps.gif") as gif:
        assert gif.n_frames == len(pngs)
    assert (folder / "captions.txt").read_text().count("[frame ") == len(pngs)
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- single files


def test_an_interrupted_file_write_keeps_the_old_file(tmp_path, monkeypatch):
    from micrograd_mlp.core import atomic_files
    target = tmp_path / "page.html"
    target.write_text("old page")
    os.chmod(target, 0o640)

    def cut(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_files.os, "replace", cut)
    with pytest.raises(KeyboardInterrupt):
        atomic_files.write_text(target, "new page")
    assert target.read_text() == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
    monkeypatch.undo()
    atomic_files.write_text(target, "new page")
    assert target.read_text() == "new page"
    assert target.stat().st_mode & 0o777 == 0o640  # the replaced file's permissions


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    from micrograd_mlp.core import atomic_files
    umask = os.umask(0o022)
    try:
        path = atomic_files.write_bytes(tmp_path / "sub" / "f.bin", b"abc")
    finally:
        os.umask(umask)
    assert path.read_bytes() == b"abc" and path.stat().st_mode & 0o777 == 0o644


@needs_dot
def test_html_and_gif_are_whole_or_absent(tmp_path, monkeypatch):
    root = chain(2)
    frames = stepper.step_frames(root, collapse=False)
    page = tmp_path / "steps.html"
    page.write_text("old")
    interrupt_on_call(monkeypatch, stepper, "_pipe", 2)  # the second frame's SVG
    with pytest.raises(KeyboardInterrupt):
        stepper.write_html(root, page, frames=frames)
    assert page.read_text() == "old" and leftovers(tmp_path) == []
    monkeypatch.undo()
    pngs = stepper.write_frames(root, tmp_path / "f", formats=("png",), frames=frames)
    from PIL import Image
    real_save = Image.Image.save

    def half_save(self, fp, *args, **kwargs):
        # what Ctrl-C half way through PIL's save does: a header and no more
        if hasattr(fp, "write"):
            fp.write(b"GIF89a")
        else:
            with open(fp, "wb") as f:
                f.write(b"GIF89a")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        stepper.write_gif(pngs, tmp_path / "steps.gif")
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert not (tmp_path / "steps.gif").exists() and leftovers(tmp_path) == []


@needs_dot
def test_render_interrupted_keeps_the_old_drawing(tmp_path, monkeypatch):
    target = tmp_path / "g.svg"
    target.write_text("old drawing")
    a = Value(2.0, "a")

    def cut(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(graph, "run_dot", cut)
    with pytest.raises(KeyboardInterrupt):
        graph.render(a * a, target)
    assert target.read_text() == "old drawing" and leftovers(tmp_path) == []


# ---------------------------------------------------------------- a command stopped from outside


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_mid_frames_cleans_up_and_stops_dot(tmp_path):
    # `kill PID` during the frames: the command ends as after Ctrl-C (exit 130), with
    # no frames folder, no temporary, and the dot it was running (and dot's child) gone
    from test_drawing_bounds import fake_dot, gone, wait_for

    bin_dir = fake_dot(tmp_path, f"""\
        echo $$ > {tmp_path}/dot.pid
        sleep 300 &
        echo $! > {tmp_path}/child.pid
        wait
        """)
    root_dir = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(root_dir) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "micrograd_mlp", "trace", "a*b", "a=1", "b=2",
                             "--frames", str(work / "frames")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pids = []
    try:
        pids = [wait_for(tmp_path / "dot.pid", wait=60), wait_for(tmp_path / "child.pid")]
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if not gone(pid, wait=0.1):
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert all(gone(pid) for pid in pids)
    assert list(work.iterdir()) == []
