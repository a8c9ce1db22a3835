"""The studio's web app (Starlette) and the thread that trains while it plays.

Routes: ``GET /`` the page, ``/static/*`` its files, ``GET /api/state``,
``GET /api/graph.svg``, ``GET /api/checkpoint``, ``GET /api/data.csv``,
``POST /api/export`` and ``POST /api/<command>`` for every command of
:mod:`micrograd_mlp.studio.commands`. Every error is a JSON answer ``{"error": ...}``
with a 4xx status (the session is left as it was); the server keeps running.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from importlib import resources

from ..errors import MicrogradError
from . import commands
from .session import Session

__all__ = ["make_app", "Trainer"]

MAX_BODY = 2_000_000  #: the largest request body (a CSV of the most points fits)


class Trainer:
    """The background thread: while the session's ``running`` setting is on, take
    ``speed`` steps, let the requests in, repeat."""

    def __init__(self, session: Session, pause: float = 0.0):
        self.session = session
        self.pause = pause
        self._stop = threading.Event()
        self._thread = None

    def start(self) -> None:
        """Start the thread (once). The interpreter then switches threads every
        millisecond instead of every five, so that requests do not queue behind the
        training thread for the lock of the interpreter (one setting per process)."""
        if self._thread is None:
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, 0.001))
            self._thread = threading.Thread(target=self._run, name="studio-trainer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
            sys.setswitchinterval(self._switch)

    def _run(self) -> None:
        _yield_to_the_page()
        s = self.session
        while not self._stop.is_set():
            if not s.settings["running"]:
                self._stop.wait(0.02)
                continue
            speed = s.settings["speed"]
            started = time.perf_counter()
            try:
                if speed:  # slow motion: `speed` steps per tick, about 30 ticks a second
                    s.step(speed)
                else:      # as fast as it goes: steps for one time slice, at least as long
                    # as preparing a watcher's state takes (watching costs <= 1/2 the time)
                    s.step_for(max(SLICE, s.prepare_time))
            except MicrogradError as err:  # e.g. data a loss refuses: pause, say why
                s.pause(f"training paused: {err}")
            rest = (1 / 30 - (time.perf_counter() - started)) if speed else 0.0
            # a short sleep hands the lock to a waiting request (locks are not fair)
            time.sleep(max(rest, 0.001 if s.readers else 0.0))


def _yield_to_the_page() -> None:
    """Lower the training thread's scheduling priority (Linux: per thread), so that on
    a machine with few cores the browser drawing the page and the server answering it
    run first, and training takes the time they leave. Elsewhere: nothing."""
    if sys.platform.startswith("linux") and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), TRAINER_NICENESS)
        except OSError:  # not permitted here: train at the usual priority
            pass


TRAINER_NICENESS = 10  #: added to the training thread's nice value (0-19: lower priority)

LONG_POLL = 1.0  #: seconds a GET /api/state?since= waits for a change

SLICE = 0.015  #: seconds of training between two chances for the requests


class BadBody(Exception):
    """A request body that cannot be read: ``status`` and a message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_body(raw: bytes):
    """The JSON object of a request body (``{}`` for an empty one), else
    :class:`BadBody` (too large, or not JSON; ``NaN`` and ``Infinity`` are refused)."""
    if len(raw) > MAX_BODY:
        raise BadBody(413, f"the request body is {len(raw)} bytes; at most {MAX_BODY}")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise BadBody(400, f"the body is not valid JSON: {err}") from None


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _dumps(data) -> bytes:
    return json.dumps(data, allow_nan=False, separators=(",", ":")).encode("utf-8")


def make_app(session: Session, trainer: bool = True) -> Starlette:
    """The Starlette app serving ``session``; ``trainer``: run a :class:`Trainer`
    while the app runs (from its startup to its shutdown)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def _error(status: int, message: str):
        return JSONResponse({"error": message}, status_code=status)

    async def _body(request):
        return parse_body(await request.body())

    async def bad_body(request, exc):
        return _error(exc.status, str(exc))
    worker = Trainer(session) if trainer else None
    page = resources.files(__package__).joinpath("static", "studio.html").read_text(encoding="utf-8")
    static_dir = str(resources.files(__package__).joinpath("static"))

    async def index(request):
        return HTMLResponse(page)

    async def get_state(request):
        query = dict(request.query_params)
        since = query.get("since")
        if since not in (None, "") and since == str(session.version) and not query.get("snapshot"):
            # a long poll: answer as soon as the state changes (at most LONG_POLL seconds)
            session.last_read = time.monotonic()
            try:
                await asyncio.wait_for(changes["event"].wait(), LONG_POLL)
            except asyncio.TimeoutError:
                pass
        if set(query) <= {"since"} and since != str(session.version):
            # the live state, prepared by the trainer: no thread hop
            ready = session.prepared()
            if ready is not None:
                return Response(ready, media_type="application/json",
                                headers={"Cache-Control": "no-store"})
        data = await run_in_threadpool(commands.state_json, session, query)
        return Response(data, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def get_graph(request):
        return Response(commands.graph(session, dict(request.query_params)),
                        media_type="image/svg+xml")

    async def get_checkpoint(request):
        return Response(_dumps(commands.checkpoint(session, {})), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="studio_model.json"'})

    async def get_csv(request):
        return Response(commands.data_csv(session, {}), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="studio_data.csv"'})

    async def post_export(request):
        body = await _body(request)
        return HTMLResponse(await run_in_threadpool(commands.export_html, session, body),
                            headers={"Content-Disposition": 'attachment; filename="studio.html"'})

    async def post_command(request):
        name = request.url.path.rsplit("/", 1)[-1]
        command = commands.POST_COMMANDS[name]
        body = await _body(request)
        with_state = request.query_params.get("state") == "1"

        def run():
            data = _dumps({"ok": True, **command(session, body), "version": session.version})
            if with_state:  # the new state in the same answer: one round trip less (the
                # state's JSON as prepared for GET /api/state, not encoded again)
                data = data[:-1] + b',"state":' + session.state_json() + b"}"
            return data

        return Response(await run_in_threadpool(run), media_type="application/json")

    async def library_error(request, exc):
        return _error(400, str(exc))

    async def http_error(request, exc):
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = (f"no such page or API route: {request.method} {request.url.path}; the "
                      f"commands are POST /api/" + ", /api/".join(sorted(commands.POST_COMMANDS))
                      + ", /api/export")
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, str(detail))

    async def server_error(request, exc):  # a bug: still a JSON answer, the server goes on
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    changes = {"event": asyncio.Event()}

    def changed():  # in the event loop: wake the long polls, arm a new event
        changes["event"].set()
        changes["event"] = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loop = asyncio.get_running_loop()
        changes["event"] = asyncio.Event()

        def listener():  # any thread: the session changed
            loop.call_soon_threadsafe(changed)

        session.listeners.append(listener)
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            session.listeners.remove(listener)
            if worker is not None:
                worker.stop()

    routes = [
        Route("/", index),
        Route("/api/state", get_state),
        Route("/api/graph.svg", get_graph),
        Route("/api/checkpoint", get_checkpoint),
        Route("/api/data.csv", get_csv),
        Route("/api/export", post_export, methods=["POST"]),
        *[Route(f"/api/{name}", post_command, methods=["POST"]) for name in commands.POST_COMMANDS],
        Mount("/static", StaticFiles(directory=static_dir), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={MicrogradError: library_error, HTTPException: http_error,
                                        BadBody: bad_body,
                                        Exception: server_error})
    app.state.session = session
    app.state.trainer = worker
    return app
