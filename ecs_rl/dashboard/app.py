"""The dashboard's web app (Starlette): the page, its static files, and the JSON API over the runs under a root.

- ``GET /``: the page; ``GET /static/<file>``: only the files shipped in ``ecs_rl/dashboard/static/``.
- ``GET /api/runs``: every run (``ecs-rl runs``'s listing, with algorithm and a ``training`` marker).
- ``GET /api/runs/<id>/episodes?after=N`` and ``.../evals?after=N``: the log lines after the first N, and
  the N to ask after next time (see :meth:`RunsIndex.lines`). The page polls these every two seconds.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..core.run import RunError
from .runs import LOGS, MAX_LINES, RunsIndex

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".LICENSE": "text/plain"}
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    "Cache-Control": "no-store",
}


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities (which JSON lacks) made null, in nested dicts and lists too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class _JSON(JSONResponse):
    """Strict JSON for the browser: a log or metadata file written elsewhere may hold NaN or Infinity (Python
    reads them), which go out as null instead of failing the response."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:
            return json.dumps(_finite(content), ensure_ascii=False, allow_nan=False, indent=None,
                              separators=(",", ":")).encode("utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return _JSON({"error": message}, status_code=status, headers=_HEADERS)


def create_app(root: str | os.PathLike[str], allowed_hosts: list[str] | None = None) -> Starlette:
    """The app serving the runs under ``root``. ``allowed_hosts``: Host headers accepted (default: the
    loopback names, which also keeps a web page that rebinds its domain to 127.0.0.1 from reading runs)."""
    index = RunsIndex(root)
    static = {p.name: p for p in STATIC.iterdir() if p.is_file()}  # fixed when the app starts

    async def page(request: Request) -> Response:
        return FileResponse(static["index.html"], media_type="text/html", headers=_HEADERS)

    async def static_file(request: Request) -> Response:
        path = static.get(request.path_params["name"])
        if path is None:
            return _error(404, "no such file")
        return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"), headers=_HEADERS)

    def runs(request: Request) -> Response:
        try:
            return _JSON({"root": str(index.root), "runs": index.runs()}, headers=_HEADERS)
        except (OSError, ValueError) as exc:  # the root vanished or cannot be read
            return _error(503, str(exc))

    def lines(request: Request) -> Response:
        run_id, log = request.path_params["run_id"], request.path_params["log"]
        if log not in LOGS:
            return _error(404, f"no log {log!r}: ask for episodes or evals")
        try:
            after = int(request.query_params.get("after", "0"))
            limit = int(request.query_params.get("limit", str(MAX_LINES)))
        except ValueError:
            return _error(400, "after and limit must be whole numbers")
        if after < 0 or not 1 <= limit <= MAX_LINES:
            return _error(400, f"after must be >= 0 and limit within 1..{MAX_LINES}")
        try:
            found = index.lines(run_id, log, after, limit)
        except RunError as exc:  # the root vanished
            return _error(503, str(exc))
        except ValueError as exc:  # a corrupt line: named by file and byte offset
            return _error(422, str(exc))
        except OSError as exc:
            return _error(503, f"run {run_id}: {exc.strerror or exc}")
        if found is None:
            return _error(404, f"no run {run_id!r} under {index.root}")
        return _JSON(found, headers=_HEADERS)

    routes = [
        Route("/", page),
        Route("/static/{name}", static_file),
        Route("/api/runs", runs),
        Route("/api/runs/{run_id:path}/{log}", lines),
    ]
    hosts = allowed_hosts if allowed_hosts is not None else ["127.0.0.1", "localhost"]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])
