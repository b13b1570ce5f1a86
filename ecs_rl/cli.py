"""The ``ecs-rl`` command: train, eval, watch, play, export, plot, runs and dashboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from . import __version__
from .core.files import WriteError
from .core.run import RunError, TrainingRun
from .core.stats import format_table
from .core.types import HELD_OUT_SEED


GAME_HELP = ("a game: cartpole, foragers, hunt, a name an installed package registers (entry points "
             "'ecs_rl.games'), path/to/game.py:make_game or package.module:make_game")


RUN_GAME_HELP = ("the run's game, for a run made from Python that has no config.json naming it (e.g. cartpole, "
                 "path/to/game.py:make_game)")


class CliError(Exception):
    """A user mistake: printed as one line, exit status 2, no traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``ecs-rl train: error: ...``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _whole_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive = _whole_at_least(1)
_seed = _whole_at_least(0)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _check_output(path: str | None, flag: str) -> None:
    """A file the command will write: its directory must exist and the path must not be a directory."""
    if path is None:
        return
    parent = Path(path).parent
    if not parent.is_dir():
        raise CliError(f"argument {flag}: directory {parent} does not exist")
    if Path(path).is_dir():
        raise CliError(f"argument {flag}: {path} is a directory")


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


def _port(text: str) -> int:
    value = _whole_at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, got {value}")
    return value


def _cmd_dashboard(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.is_dir():
        raise CliError(f"--root {root} does not exist or is not a directory")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CliError(f"the dashboard needs ecs-rl[dashboard] ({exc.name} is missing): "
                       "pip install 'ecs-rl[dashboard]'") from None
    from .dashboard import serve

    try:
        serve(root, args.host, args.port)
    except OSError as exc:
        raise CliError(str(exc)) from None
    return 0


def _configure_torch() -> None:
    """Commands that run torch networks set its process-wide CPU settings once, at their start."""
    from .algorithms import configure_torch

    configure_torch()  # one thread, flush-denormal: see its docstring


def _cmd_train(args: argparse.Namespace) -> int:
    from .commands import train

    if args.game is None and args.resume is None:
        raise CliError("name a game (cartpole, foragers, hunt, path/to/game.py:make_game or module:make_game) "
                       "or --resume a run")
    _configure_torch()
    return train(args.game, args.algo, args.steps, args.envs, args.seed, args.render, args.name, args.version,
                 args.resume, args.root, args.eval_freq, args.full, args.max_frames,
                 checkpoint_every=args.checkpoint_every, checkpoint_seconds=args.checkpoint_seconds,
                 self_play=args.self_play, tensorboard=args.tensorboard, workers=args.workers,
                 ray_address=args.ray_address)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .commands import evaluate

    _configure_torch()
    return evaluate(args.run, args.episodes, args.seed, args.render, args.max_frames, args.baseline, game=args.game)


def _cmd_watch(args: argparse.Namespace) -> int:
    from .commands import watch

    _check_output(args.screenshot, "--screenshot")
    _configure_torch()
    return watch(args.run, args.max_frames, args.screenshot, args.seed, game=args.game)


def _cmd_play(args: argparse.Namespace) -> int:
    from .commands import play

    _check_output(args.screenshot, "--screenshot")
    if args.run is not None:
        _configure_torch()
    return play(args.game, args.run, args.max_frames, args.screenshot, args.seed)


def _cmd_export(args: argparse.Namespace) -> int:
    from .commands import export

    _configure_torch()
    return export(args.run, args.output, args.checkpoint)


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_ratings, plot_runs

    _check_output(args.output, "-o/--output")
    try:
        runs = [TrainingRun.resume(path) for path in args.runs]
        out = plot_ratings(runs, args.output) if args.ratings else plot_runs(runs, args.output, window=args.smooth)
    except (RunError, ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"argument -o/--output: cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ecs-rl", description="Train RL agents in esper ECS worlds.")
    parser.add_argument("--version", action="version", version=f"ecs-rl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("train", help="train an agent on a game (headless, or --render)")
    p.add_argument("game", nargs="?", help=GAME_HELP + " (not needed with --resume)")
    p.add_argument("--algo", choices=["dqn", "ppo"], help="default: the game's (dqn)")
    p.add_argument("--steps", type=_positive, help="step budget (default: the game's, 100000); hunt: of each "
                   "policy, a step being a decision of one of its agents (default: prey 50000, predator 25000)")
    p.add_argument("--envs", type=_positive, help="agent entities in the world (default: the game's; hunt: all "
                   "three teams together, 24)")
    p.add_argument("--seed", type=_seed, help="default: 0 (with --resume: the run's)")
    p.add_argument("--render", action="store_true",
                   help="train live in a window (keys: +/- speed, space pause, r drawing, esc quit)")
    p.add_argument("--name", help="run name (default: the game)")
    p.add_argument("--version", dest="version", help="run version (default: the algorithm; hunt: one run per "
                   "policy, <name>/<policy>/<run>, so no --version)")
    p.add_argument("--resume", metavar="PATH", help="continue a run (a run, version or name directory); hunt: "
                   "either team's run resumes both")
    p.add_argument("--root", default="runs", help="where runs live (default: runs)")
    p.add_argument("--eval-freq", type=_positive, help="greedy evaluation every N steps (of a policy) "
                   "(default: the game's: 5000; hunt 12500)")
    p.add_argument("--full", action="store_true", help="use the whole budget even once solved")
    p.add_argument("--checkpoint-every", type=_positive, metavar="N",
                   help="save step_<N>.pt and latest.pt every N steps (default: steps/5, at most 10000)")
    p.add_argument("--checkpoint-seconds", type=_seconds, default=60.0, metavar="T",
                   help="also save latest.pt every T seconds (60): a kill loses at most that much")
    p.add_argument("--self-play", action="store_true", help="hunt: each team also plays past snapshots of the "
                   "other (runs/.../snapshots/), with Elo ratings; a resumed self-play run keeps it")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard scalars in the run directory "
                   "(tensorboard --logdir runs); needs ecs-rl[tensorboard]")
    p.add_argument("--workers", type=_positive, metavar="N", help="run the world in N Ray workers (each with "
                   "--envs agents) feeding this process's learner (pip install 'ecs-rl[ray]')")
    p.add_argument("--ray-address", metavar="ADDR", help="with --workers: join this Ray cluster (e.g. auto, "
                   "ray://head:10001) instead of starting a local Ray for the run")
    p.add_argument("--max-frames", type=_positive, help=argparse.SUPPRESS)
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser("eval", help="greedy episodes of a run's best checkpoint, as a report")
    p.add_argument("run")
    p.add_argument("--episodes", type=_positive, help="episodes (default: the game's); hunt: worlds of 1000 "
                   "ticks, one seed each (default 4)")
    p.add_argument("--seed", type=_seed, default=HELD_OUT_SEED,
                   help="first start seed (default 10**9: seeds no training-time evaluation uses)")
    p.add_argument("--render", action="store_true")
    p.add_argument("--game", help=RUN_GAME_HELP)
    p.add_argument("--baseline", action="store_true", help="also report a random policy on the same episodes "
                   "(hunt: a random team in each team's place)")
    p.add_argument("--max-frames", type=_positive, help=argparse.SUPPRESS)
    p.set_defaults(handler=_cmd_eval)

    p = sub.add_parser("watch", help="a run's best checkpoint playing greedily in a window")
    p.add_argument("run")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--game", help=RUN_GAME_HELP)
    p.add_argument("--max-frames", type=_positive, help="close after N frames")
    p.add_argument("--screenshot", metavar="PNG", help="save the last frame")
    p.set_defaults(handler=_cmd_watch)

    p = sub.add_parser("play", help="drive an entity with the keyboard (arrow keys)")
    p.add_argument("game", help=GAME_HELP)
    p.add_argument("--run", help="a trained run for the other agents (foragers; hunt: either team's run, for "
                   "both teams); default: random agents")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--max-frames", type=_positive, help="close after N frames")
    p.add_argument("--screenshot", metavar="PNG", help="save the last frame")
    p.set_defaults(handler=_cmd_play)

    p = sub.add_parser("export", help="a run's greedy policy as a small file a game loads without torch")
    p.add_argument("run", help="a run (or version / name) directory, or a checkpoint file")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="FILE.npz (numpy weights + JSON header) or FILE.onnx (needs ecs-rl[onnx])")
    p.add_argument("--checkpoint", metavar="best|latest|NAME|PATH",
                   help="which checkpoint of the run (default: best, else latest)")
    p.set_defaults(handler=_cmd_export)

    p = sub.add_parser("plot", help="episode reward against steps for one or more runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--smooth", type=_positive, default=20, help="smoothing window in episodes (20)")
    p.add_argument("--ratings", action="store_true", help="self-play Elo ratings of the runs instead of rewards")
    p.set_defaults(handler=_cmd_plot)

    p = sub.add_parser("runs", help="list training runs and their progress")
    p.add_argument("--root", default="runs", help="directory holding <name>/<version>/<run> (default: runs)")
    p.set_defaults(handler=_cmd_runs)

    p = sub.add_parser("dashboard", help="a local web page of the runs, with live charts")
    p.add_argument("--root", default="runs", help="directory holding <name>/<version>/<run> (default: runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                   "only; 0.0.0.0 shows the runs to the network and prints a warning)")
    p.add_argument("--port", type=_port, default=8765, help="default 8765; 0: a free port")
    p.set_defaults(handler=_cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .commands import CommandError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (CliError, CommandError, RunError, WriteError) as exc:
        message = " ".join(str(exc).split("\n"))
        print(f"ecs-rl {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ecs-rl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
