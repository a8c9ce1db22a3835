"""Running the studio's web app: in the foreground (the command line) or in a thread
(the Jupyter widget, scripts, tests), with uvicorn."""
from __future__ import annotations

import socket
import sys
import threading
import time
import webbrowser

from .app import make_app
from .session import Session

__all__ = ["bind", "serve", "ServerThread", "LOCAL_HOSTS"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port=0``: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # the protocol named, not 0: asyncio then turns Nagle's algorithm off on each
    # connection (TCP_NODELAY), else a response written in two parts waits for the
    # browser's delayed acknowledgement, about 40 ms
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


def _server(session):
    import uvicorn

    return uvicorn.Server(uvicorn.Config(make_app(session), log_level="warning", lifespan="on",
                          access_log=False, timeout_graceful_shutdown=2))


def url_of(sock: socket.socket) -> str:
    """``http://host:port/`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def serve(session: Session, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False,
          out=None) -> int:
    """Serve ``session`` until Ctrl-C; prints the address first (and opens a browser
    when asked). Returns 0."""
    out = out or sys.stdout
    sock = bind(host, port)
    url = url_of(sock)
    print(f"micrograd-mlp studio: {url}  (Ctrl-C stops it)", file=out, flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server = _server(session)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down, then passes Ctrl-C on: the way to stop
        pass
    finally:
        sock.close()
    print("micrograd-mlp studio: stopped", file=out, flush=True)
    return 0


class ServerThread:
    """The app served from a background thread on ``host`` (a free port by default):
    ``url`` once started; :meth:`stop` ends it."""

    def __init__(self, session: Session, host: str = "127.0.0.1", port: int = 0):
        self.session = session
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = _server(session)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="studio-server", daemon=True)

    def start(self) -> "ServerThread":
        """Start serving; returns once the server answers."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
