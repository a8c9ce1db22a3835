"""The layer order of the package, declared once (the import test and the architecture
page read it).

Each entry is one level; a module may import modules of its own room and of any room
on an earlier level, never a later one nor another room of its own level. Inside a
room, imports form no circle.
"""
from __future__ import annotations

LEVELS = (
    ("errors",),                  # every exception class, one family
    ("core",),                    # primitives, engine, gradcheck, recorder
    ("functions",),               # composite, activations, losses
    ("nets", "views"),            # networks and training | pictures of a graph
    ("grading",),                 # answers files, hand solutions, slips, exercises
    ("face",),                    # commands, worked examples, the package's front page, the studio
)

# package-level modules that are not a folder of their own, and the room they belong to
LOOSE_MODULES = {
    "errors": "errors",
    "architecture": "errors",     # data only, imports nothing
    "__init__": "face", "__main__": "face", "examples": "face", "cli": "face", "studio": "face",
}

# optional heavy dependencies that may be imported inside a function, on first use
LAZY_DEPENDENCIES = ("matplotlib", "torch", "sklearn", "scipy", "PIL", "tqdm",
                     "threadpoolctl", "graphviz", "IPython", "nbformat",
                     "starlette", "uvicorn", "anywidget", "traitlets", "numba")


def room_of(module: str) -> str:
    """The room of a module given by its path inside the package (``"core.engine"``,
    ``"examples"``)."""
    head = module.split(".")[0]
    return LOOSE_MODULES.get(head, head) if "." not in module else (
        "face" if head in ("cli", "studio") else head)


def level_of(room: str) -> int:
    """The index of the level holding ``room``."""
    for i, rooms in enumerate(LEVELS):
        if room in rooms:
            return i
    raise KeyError(f"room {room!r} is not in LEVELS")
