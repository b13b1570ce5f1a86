"""``ecs-rl dashboard``: a local web app that shows the runs under a root live (needs ``ecs-rl[dashboard]``).

>>> from ecs_rl.dashboard import serve
>>> serve("runs", host="127.0.0.1", port=8765)   # blocks; Ctrl-C stops it
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``localhost``, 127.0.0.0/8, ``::1``).

    Args:
        host: a host name or IP address, as given to ``--host``.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); raises OSError naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small JSON answers go out at once
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def server(root: str | os.PathLike[str], sock: socket.socket, host: str = "127.0.0.1"):
    """A uvicorn server of the app over the runs under ``root``, to be run on ``sock`` (``server.run(sockets=
    [sock])``; ``server.should_exit = True`` stops it). On a loopback address only Host headers naming
    127.0.0.1, localhost or that address are accepted.

    Args:
        root: the directory holding ``<name>/<version>/<run>``.
        sock: a listening socket (``listen(host, port)``).
        host: the address ``sock`` listens on, which decides the accepted Host headers.
    """
    import uvicorn

    from .app import create_app

    name = f"[{host}]" if ":" in host else host  # as a Host header spells it
    app = create_app(root, allowed_hosts=["127.0.0.1", "localhost", name] if is_loopback(host) else ["*"])
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))


def serve(root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the dashboard of the runs under ``root`` until interrupted.

    Args:
        root: the directory holding ``<name>/<version>/<run>``.
        host: the address to listen on (127.0.0.1: this machine only).
        port: the port (0: a free one).
    """
    sock = listen(host, port)
    if not is_loopback(host):
        print(f"ecs-rl dashboard: warning: listening on {host}, not only this machine: anyone who can reach "
              f"port {sock.getsockname()[1]} can read the runs under {root}", file=sys.stderr, flush=True)
    where = f"[{host}]" if ":" in host else host
    print(f"dashboard of the runs under {root}: http://{where}:{sock.getsockname()[1]}/  (Ctrl-C stops it)",
          flush=True)
    server(root, sock, host).run(sockets=[sock])


__all__ = ["is_loopback", "listen", "serve", "server"]
