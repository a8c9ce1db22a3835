"""The studio inside Jupyter: ``Studio(...)`` is an anywidget whose front-end is the
page's own script (``static/studio.js``); its requests travel as widget messages to the
kernel, where the same commands as the web app's answer them (:mod:`.commands`), and a
:class:`~micrograd_mlp.studio.app.Trainer` thread trains while it plays.

    >>> from micrograd_mlp.studio.widget import Studio
    >>> Studio(data="circles", net="2-8-1")      # the last line of a cell shows it
"""
from __future__ import annotations

import json

import anywidget
import traitlets

from ..errors import MicrogradError
from . import commands
from .app import BadBody, Trainer
from .export import static_text
from .session import Session

__all__ = ["Studio", "answer"]


def answer(session: Session, message) -> dict:
    """The reply to one front-end message ``{id, method, path, body}``: ``{id, status,
    body}`` (status 400 and ``{"error": ...}`` for a bad request, 404 for an unknown
    path)."""
    mid = message.get("id") if isinstance(message, dict) else None
    try:
        if not isinstance(message, dict):
            raise BadBody(400, "a message must be an object {id, method, path, body}")
        method, path, body = message.get("method"), message.get("path"), message.get("body") or {}
        if method == "GET" and path == "state":
            data = commands.state(session, body)
        elif method == "GET" and path == "graph.svg":
            data = commands.graph(session, body)
        elif method == "GET" and path in ("file/export", "file/checkpoint", "file/csv"):
            kind = path.split("/")[1]
            data = (commands.export_html(session, {}) if kind == "export" else
                    json.dumps(commands.checkpoint(session, {}), indent=1) if kind == "checkpoint"
                    else commands.data_csv(session, {}))
        elif method == "POST" and path in commands.POST_COMMANDS:
            data = {"ok": True, **commands.POST_COMMANDS[path](session, body),
                    "version": session.version}
        else:
            return {"id": mid, "status": 404, "body": {"error": f"no such request: {method} {path}"}}
        return {"id": mid, "status": 200, "body": data}
    except MicrogradError as err:
        return {"id": mid, "status": 400, "body": {"error": str(err)}}
    except BadBody as err:
        return {"id": mid, "status": err.status, "body": {"error": str(err)}}


class Studio(anywidget.AnyWidget):
    """The studio as a Jupyter widget; keyword arguments are the settings of
    :class:`~micrograd_mlp.studio.session.Session` (``data``, ``seed``, ``net`` ...).
    ``session`` is the shared state (a script may drive it while the widget shows it)."""

    _esm = traitlets.Unicode(static_text("studio.js")).tag(sync=True)
    _css = traitlets.Unicode(static_text("studio.css")).tag(sync=True)

    def __init__(self, **settings):
        super().__init__()
        self.session = Session(**settings)
        self.trainer = Trainer(self.session)
        self.trainer.start()
        self.on_msg(self._on_message)

    def _on_message(self, widget, content, buffers):
        self.send(answer(self.session, content))

    def close(self):
        """Stop training and close the widget."""
        self.trainer.stop()
        super().close()
