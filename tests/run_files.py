"""Reading the files of team runs the command line wrote (``runs/hunt/<team>/<run>``)."""

import json
from pathlib import Path

TEAMS = ("prey", "predator")


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def team_runs(root: Path) -> dict[str, Path]:
    runs = {}
    for team in TEAMS:
        (runs[team],) = root.glob(f"hunt/{team}/*")
    return runs
