"""The studio's commands, one function each, shared by the web app's routes and the
Jupyter widget's messages: each takes the session and the request's JSON body (a dict)
and returns JSON-ready data, or raises an error of the library's family (a bad
request: the session is left as it was)."""
from __future__ import annotations

import json
import time
from typing import Callable, Dict

from ..core.validate import check_int
from ..errors import ArgumentError, DataTypeError
from . import export as _export
from .graph_svg import graph_svg
from .netspec import parse_studio_net
from .session import Session

__all__ = ["POST_COMMANDS", "state", "graph", "checkpoint", "data_csv", "export_html"]


def _fields(body, allowed, what):
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise DataTypeError(f"{what}: the body must be a JSON object, not {type(body).__name__}")
    unknown = set(body) - set(allowed)
    if unknown:
        raise ArgumentError(f"{what}: unknown field {sorted(unknown)[0]!r}; known: "
                            f"{', '.join(allowed) or 'none'}")
    return body


def state(session: Session, query: Dict) -> Dict:
    """``GET /api/state``: the state; ``snapshot=k`` the views at snapshot ``k``;
    ``formulas=1`` each number's formula too; ``since=v`` only ``{"version": v,
    "unchanged": true}`` while nothing changed."""
    snap, formulas, unchanged = _state_query(session, query)
    if unchanged:
        return {"version": session.version, "unchanged": True}
    return session.state(snapshot=snap, formulas=formulas)


def _state_query(session: Session, query: Dict):
    """``(snapshot or None, formulas, unchanged)`` from a state request's query;
    ``unchanged``: the caller has the current state already (``since`` = its version)."""
    query = _fields(query, ("snapshot", "formulas", "since"), "state")
    snap = query.get("snapshot")
    snap = None if snap in (None, "") else check_int(_int(snap, "snapshot"), "snapshot", minimum=0)
    formulas = str(query.get("formulas", "0")) in ("1", "true")
    since = query.get("since")
    unchanged = since not in (None, "") and snap is None and _int(since, "since") == session.version
    return snap, formulas, unchanged


def state_json(session: Session, query: Dict) -> bytes:
    """:func:`state` as the JSON bytes the web app sends (encoded once per change)."""
    snap, formulas, unchanged = _state_query(session, query)
    if unchanged:
        session.last_read = time.monotonic()  # still watched: the trainer prepares states
        return json.dumps({"version": session.version, "unchanged": True}).encode("utf-8")
    return session.state_json(snapshot=snap, formulas=formulas)


def _int(text, what):
    if isinstance(text, int):
        return text
    try:
        return int(str(text))
    except ValueError:
        raise ArgumentError(f"{what} must be an integer, not {str(text)[:40]!r}") from None


def graph(session: Session, query: Dict) -> str:
    """``GET /api/graph.svg``: the vector view of the current network, laid out once."""
    with session.lock:
        widths = tuple(parse_studio_net(session.settings["net"]))
        acts = tuple(a or "identity" for a in session.model.activations)
    return graph_svg(widths, acts)


def checkpoint(session: Session, query: Dict) -> Dict:
    """``GET /api/checkpoint``: the network and optimiser in the library's checkpoint
    format (what ``MLP.load`` and ``load_checkpoint`` read)."""
    return session.checkpoint()


def data_csv(session: Session, query: Dict) -> str:
    """``GET /api/data.csv``: the training points as CSV."""
    return session.csv()


def export_html(session: Session, body: Dict) -> str:
    """``POST /api/export``: the session as one offline HTML file."""
    _fields(body, (), "export")
    return _export.offline_page(session, graph(session, {}))


def _step(session, body):
    body = _fields(body, ("steps", "epochs"), "step")
    if "epochs" in body:
        if "steps" in body:
            raise ArgumentError("step: give steps or epochs, not both")
        return {"taken": session.run_epochs(body["epochs"])}
    return {"taken": session.step(body.get("steps", 1))}


def _play(session, body):
    _fields(body, (), "play")
    session.update_settings({"running": True})
    return {"running": True}


def _pause(session, body):
    _fields(body, (), "pause")
    session.update_settings({"running": False})
    return {"running": False}


def _reset(session, body):
    _fields(body, (), "reset")
    session.reset()
    return {"step": 0}


def _select(session, body):
    body = _fields(body, ("index",), "select")
    if "index" not in body:
        raise ArgumentError("select: give the point's index, e.g. {\"index\": 3}")
    session.select(body["index"])
    return {"index": session.selected}


def _points(session, body):
    body = _fields(body, ("add", "delete", "csv"), "points")
    if len(body) != 1:
        raise ArgumentError('points: give exactly one of add ({"x": .., "y": .., "label": ..}), '
                            'delete (an index) or csv (the file\'s text)')
    if "add" in body:
        point = _fields(body["add"], ("x", "y", "label"), "points add")
        return {"index": session.add_point(point.get("x"), point.get("y"), point.get("label"))}
    if "delete" in body:
        session.delete_point(body["delete"])
        return {"points": int(session.X.shape[0])}
    return {"points": session.load_csv(body["csv"])}


def _weight(session, body):
    body = _fields(body, ("name", "index", "value"), "weight")
    for key in ("name", "index", "value"):
        if key not in body:
            raise ArgumentError(f"weight: {key} is missing; e.g. "
                                '{"name": "W1", "index": [0, 1], "value": 0.3}')
    session.set_weight(body["name"], body["index"], body["value"])
    return {"name": body["name"], "index": body["index"], "value": body["value"]}


def _settings(session, body):
    if not isinstance(body, dict):
        raise DataTypeError(f"settings: the body must be a JSON object, not {type(body).__name__}")
    session.update_settings(body)
    return {"settings": dict(session.settings)}


POST_COMMANDS: Dict[str, Callable] = {
    "step": _step, "play": _play, "pause": _pause, "reset": _reset, "select": _select,
    "points": _points, "weight": _weight, "settings": _settings,
}  #: ``POST /api/<name>`` -> the command
