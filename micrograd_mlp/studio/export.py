"""The session as one offline HTML file: the page's own style and script inlined, the
network's drawing, and the state at (up to) :data:`MAX_FRAMES` snapshots of the run,
each with the forward and backward numbers of a few recorded examples. Opened from
disk it needs nothing but itself: scrub the run and pick among the recorded examples."""
from __future__ import annotations

import json
from importlib import resources
from typing import Dict, List

import numpy as np

__all__ = ["offline_page", "static_text", "MAX_FRAMES", "MAX_EXAMPLES"]

MAX_FRAMES = 30    #: snapshots written into the file
MAX_EXAMPLES = 8   #: examples recorded per snapshot (the selected one and others)


def static_text(name: str) -> str:
    """The text of one of the page's files (``studio.js``, ``studio.css`` ...)."""
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _frames(n: int) -> List[int]:
    if n <= MAX_FRAMES:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, MAX_FRAMES).round().astype(int).tolist()))


def _recorded(session) -> List[int]:
    n = session.X.shape[0]
    spread = np.linspace(0, n - 1, MAX_EXAMPLES).round().astype(int).tolist()
    picks = [session.selected] + [i for i in spread if i != session.selected]
    return sorted(set(picks[:MAX_EXAMPLES]))


def _bundle(session) -> Dict:
    """The states the offline page shows (taken under the session's lock)."""
    with session.lock:
        keep = session.selected
        indices = _recorded(session)
        frames = []
        try:
            for k in _frames(len(session.snapshots)):
                base = dict(session.state(snapshot=k))
                examples = {}
                for i in indices:
                    session.select(i)
                    examples[str(i)] = session.state(snapshot=k, formulas=True)["example"]
                base["examples"] = examples
                base["example"] = examples[str(keep)]
                frames.append(base)
        finally:
            session.select(keep)
        return {"frames": frames, "recorded": indices}


def offline_page(session, svg: str) -> str:
    """The offline page (one HTML text)."""
    bundle = _bundle(session)
    bundle["graph"] = svg
    data = json.dumps(bundle, allow_nan=False, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # nothing in the data can close the script element
    page = static_text("studio.html")
    page = page.replace('<link rel="stylesheet" href="static/studio.css">',
                        "<style>\n" + static_text("studio.css") + "\n</style>")
    script = static_text("studio.js").replace("</script", "<\\/script")
    page = page.replace('<script type="module" src="static/studio.js"></script>',
                        f'<script type="application/json" id="studio-export">{data}</script>\n'
                        f'<script type="module">\n{script}\n</script>')
    return page
