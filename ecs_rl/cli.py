"""The ``ecs-rl`` command: ``ecs-rl runs`` lists training runs; more subcommands join as they are built."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .core.run import RunError, TrainingRun
from .core.stats import format_table


class CliError(Exception):
    """A user mistake: printed as one line, exit status 2, no traceback."""


def _cmd_runs(args: argparse.Namespace) -> int:
    root = Path(args.root)
    try:
        found = TrainingRun.list_runs(root)
    except RunError as exc:
        raise CliError(str(exc)) from None
    if not found:
        print(f"no runs under {root}")
        return 0
    rows = []
    for path, meta in found:
        if isinstance(meta, RunError):
            rows.append([path.parent.parent.name, path.parent.name, path.name, "-", "-", "-", f"unreadable: {meta}"])
            continue
        best = meta.get("best_eval_reward")
        rows.append([
            meta["name"], meta["version"], meta["run_id"], f"{meta['total_steps']:,}", f"{meta['total_episodes']:,}",
            "-" if best is None else f"{best:.2f}", str(meta.get("last_updated", "-")),
        ])
    print(format_table(["name", "version", "run", "steps", "episodes", "best eval", "last update"], rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecs-rl", description="Train RL agents in esper ECS worlds.")
    parser.add_argument("--version", action="version", version=f"ecs-rl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runs = sub.add_parser("runs", help="list training runs and their progress")
    runs.add_argument("--root", default="runs", help="directory holding <name>/<version>/<run> (default: runs)")
    runs.set_defaults(handler=_cmd_runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"ecs-rl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ecs-rl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
