"""Files and folders that appear only when complete.

A command interrupted (Ctrl-C, a failure, a killed process) must leave nothing
half-written, and a re-run into the same place must replace what was there, not mix
old and new. So every output is written under a temporary name in the same folder
(same file system: the final step is one ``os.replace``, atomic on POSIX) and moved
into place only when whole; on any exception the temporary is removed.

* :func:`write_bytes` / :func:`write_text`: one file.
* :func:`staged_folder`: a folder of files (frames, captions, a GIF) built in a
  temporary sibling folder; on success the files it made replace the target folder's
  files of the same kind (``stale`` patterns, e.g. ``frame_*``), so a shorter re-run
  leaves no old frame behind; files the user put there are kept.
"""
from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence, Union

__all__ = ["write_bytes", "write_text", "write_figure", "staged_folder"]

PathLike = Union[str, os.PathLike]


def _temporary_beside(path: Path) -> Path:
    """A new, empty temporary file in ``path``'s folder (hidden, named after it)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    return Path(name)


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, renamed into
    place when complete (removed on any error). Creates the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        _keep_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """:func:`write_bytes` of ``text`` encoded (UTF-8 by default)."""
    return write_bytes(path, text.encode(encoding))


def _keep_mode(path: Path, tmp: Path) -> None:
    """Give the new file the permissions a plain ``open(path, "w")`` would: those of
    the file it replaces, else the default (mkstemp makes it private, 0600)."""
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)


def write_figure(fig, path: PathLike, fmt: str, **savefig_kwargs) -> Path:
    """``fig.savefig`` in format ``fmt`` (``"png"``, ``"svg"`` ...), written to ``path``
    atomically (:func:`write_bytes`): the image is made in memory first."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, **savefig_kwargs)
    return write_bytes(path, buffer.getvalue())


@contextlib.contextmanager
def staged_folder(target: PathLike, stale: Sequence[str] = ()) -> Iterator[Path]:
    """Build a folder's files in a temporary sibling folder, yielded; when the block
    ends without an exception, the target's files matching ``stale`` (glob patterns
    such as ``"frame_*"``) are removed and every staged file is moved into ``target``
    (created if needed). On an exception nothing in ``target`` changes and the
    staging folder is removed.

    The moves are file by file (each one atomic): a crash in the last step can leave
    the old set partly replaced, but never a half-written file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield stage
        target.mkdir(parents=True, exist_ok=True)
        made = {p.name for p in stage.iterdir()}
        for name in sorted(made):
            os.replace(stage / name, target / name)
        for old in target.iterdir():  # after the moves: an interruption keeps a full set
            if old.name not in made and old.is_file() and any(
                    fnmatch.fnmatch(old.name, pat) for pat in stale):
                old.unlink()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
