"""Where a benchmark's figures go: ``benchmarks/results/<name>.json``, written only when asked (``--write``).

Every benchmark prints its table; with ``--write`` it also writes what that table needs (the raw per-seed,
per-round numbers) with where and when they were measured: the date (UTC), the commit of the tree (``+dirty``
when it had uncommitted changes), the 1-minute load average before and after, the command line and whether it
was a ``--quick`` run. ``benchmarks/report.py`` renders README's figures from these files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def add_write_option(parser: argparse.ArgumentParser) -> None:
    """``--write [FOLDER]``: write ``results/<name>.json`` (or ``results/FOLDER/<name>.json``) after the run."""
    parser.add_argument("--write", nargs="?", const="", default=None, metavar="FOLDER",
                        help="also write the figures to benchmarks/results/[FOLDER/]<name>.json (never without it)")


def check_folder(parser: argparse.ArgumentParser, folder: str | None) -> None:
    """Refuse a ``--write`` folder that would leave benchmarks/results/ (checked before any run)."""
    if folder and (Path(folder).is_absolute() or ".." in Path(folder).parts):
        parser.error(f"--write {folder}: a folder inside benchmarks/results/ (relative, no '..')")


def load_average() -> float:
    return os.getloadavg()[0]


def commit() -> str:
    """The tree's commit (``+dirty`` with uncommitted changes), or ``unknown`` outside a git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def meta(load_before: float, quick: bool = False) -> dict:
    """Where and when: date, commit, load average before and now, command line, cores, quick or not."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit(), "load": [round(load_before, 2), round(load_average(), 2)],
            "cpus": os.cpu_count(), "quick": bool(quick),
            "command": " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])}


def write(name: str, data: dict, folder: str | None) -> Path | None:
    """Write ``data`` to ``results/[folder/]<name>.json`` when ``folder`` is not None (``--write`` given)."""
    if folder is None:
        return None
    path = RESULTS / folder / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(HERE.parent)}", file=sys.stderr)
    return path
