"""``micrograd-mlp studio``: the live training studio in the browser (see
:mod:`micrograd_mlp.studio`)."""
from __future__ import annotations

import argparse
import sys

from ..errors import MicrogradError
from ..studio.datasets import NAMES
from ..studio.serve import LOCAL_HOSTS, serve
from ..studio.session import Session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``studio``."""
    parser.add_argument("--port", type=int, default=8765, help="the port (default 8765; 0: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--data", default="moons", choices=NAMES, help="the data set (default moons)")
    parser.add_argument("--net", default=None, help="the widths, e.g. 2-8-8-1 (default 2-8-8-1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and initial weights")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")


def run(args) -> int:
    """Start the studio; returns the exit code (2 for unusable options)."""
    if not 0 <= args.port <= 65535:
        print(f"micrograd-mlp studio: --port must be 0..65535, not {args.port}", file=sys.stderr)
        return 2
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print("micrograd-mlp studio: needs the studio extra: pip install 'micrograd_mlp[studio]'",
              file=sys.stderr)
        return 1
    settings = {"data": args.data, "seed": args.seed}
    try:
        session = Session(**settings)
        if args.net is not None:
            session.update_settings({"net": args.net})
    except MicrogradError as err:
        print(f"micrograd-mlp studio: {err}", file=sys.stderr)
        return 2
    if args.host not in LOCAL_HOSTS:
        print(f"micrograd-mlp studio: warning: listening on {args.host}: other machines can "
              f"reach this studio and change it (there is no login)", file=sys.stderr)
    try:
        return serve(session, host=args.host, port=args.port, open_browser=args.open)
    except OSError as err:
        print(f"micrograd-mlp studio: cannot listen on {args.host}:{args.port}: {err.strerror or err}",
              file=sys.stderr)
        return 1
