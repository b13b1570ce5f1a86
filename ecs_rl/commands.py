"""What the ``ecs-rl`` subcommands do: train, evaluate, watch and play any game (see :mod:`ecs_rl.games`)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import threading
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import esper

from .core.agent import RandomAgent
from .core.files import WriteError
from .core.run import CHECKPOINTS, RunError, TrainingRun
from .core.session import TrainingSession
from .core.stats import EvalReport, Max, Mean, Min, StatsTracker, Std, extra, format_table
from .core.types import EpisodeRecord
from .ecs.components import Agent
from .ecs.controllers import HumanController
from .ecs.evaluation import Evaluation
from .ecs.plugin import Plugin
from .ecs.runner import FixedStep, step_world
from .games import Game, GameSpecError, canonical_spec, load_game
from .scoring import evaluate as evaluate_policy
from .selfplay import for_training


class CommandError(Exception):
    """A mistake in what the user asked for: reported as one line, no traceback."""


def _load_game(spec: Any, where: str = "") -> Game:
    """The game a spec names (typed by the user, or read from a run's config.json: ``where``)."""
    try:
        return load_game(spec)
    except GameSpecError as exc:
        if not where:
            raise CommandError(str(exc)) from None
        raise CommandError(f"{where}: {exc} (if the game moved, point the \"game\" entry there)") from None


def _build(game: Game, n: int, seed: int | None, what: str, human: bool = False) -> Any:
    """The game's world in the current esper world; a bad agent count or seed is the user's one-line error."""
    world = esper.current_world
    try:
        built = game.make_world(n, seed, human=human)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{what}: {exc}") from None
    except Exception as exc:  # the game's own code failed while building: one line naming the game and error
        raise CommandError(f"{what}: game {game.name}: build({n}, {seed}) failed: {type(exc).__name__}: {exc}") from None
    if esper.current_world != world:
        raise CommandError(f"game {game.name}: build({n}, {seed}) switched esper's world from {world!r} to "
                           f"{esper.current_world!r}; build must create its entities in the current world")
    if not any(agent.policy in game.learning_policies for _, agent in esper.get_component(Agent)):
        raise CommandError(f"game {game.name}: build({n}, {seed}) created no agent entity of policy "
                           f"{' or '.join(map(repr, game.learning_policies))} (an entity with Agent(policy=...))")
    return built


#: ``train`` stops with an error when no agent of a learning policy has lived for this many ticks
STALL_TICKS = 1_024


class _Stall:
    """Counts ticks with no live agent of a learning policy (every agent died and none respawned)."""

    def __init__(self, policies) -> None:
        self.policies, self.ticks = set(policies), 0

    def check(self, ticks: int) -> None:
        if any(agent.policy in self.policies for _, agent in esper.get_component(Agent)):
            self.ticks = 0
            return
        self.ticks += ticks
        if self.ticks >= STALL_TICKS:
            raise CommandError(f"no agent of policy {' or '.join(map(repr, sorted(self.policies)))} has been alive "
                               f"for {self.ticks:,} ticks: every agent ended and the game spawned none")


def _make_agent(game: Game, algo: str, config: Any, policy: str | None = None):
    from .algorithms import DqnAgent, PpoAgent

    kind = {"dqn": DqnAgent, "ppo": PpoAgent}[algo]
    return kind(*game.spaces(policy or game.policy), config)


RETIRED_CONFIG_KEYS = ("num_threads", "flush_denormal")  # now process settings: algorithms.configure_torch


def _config_from(algo: str, data: dict) -> Any:
    """The agent config a run's config.json describes (keys of older versions that are retired are dropped)."""
    from .algorithms import DqnConfig, PpoConfig

    kind = {"dqn": DqnConfig, "ppo": PpoConfig}[algo]
    data = {k: v for k, v in data.items() if k not in RETIRED_CONFIG_KEYS}
    unknown = sorted(set(data) - {f.name for f in fields(kind)})
    if unknown:
        raise CommandError(f"config.json: agent settings {', '.join(unknown)} are not {kind.__name__} fields "
                           f"(a run written by another ecs-rl version?)")
    return kind(**data)


def _fresh_world(name: str) -> None:
    if name in esper.list_worlds():
        esper.switch_world("default")
        esper.delete_world(name)
    esper.switch_world(name)


def _units(summary: dict[str, float]) -> tuple[str, str]:
    """What a policy's steps are called, and its mean episode length with its unit(s): agents with a decision
    period decide every k ticks, so their steps are decisions and their episodes last k times as many ticks."""
    length, decisions = summary.get("mean_length", math.nan), summary.get("mean_decisions", math.nan)
    if math.isnan(decisions):
        return "steps", "-" if math.isnan(length) else f"{length:,.0f}"
    return "decisions", f"{length:,.0f} ticks / {decisions:,.0f} decisions"


def _hud(session: TrainingSession) -> list[str]:
    summary = session.stats_summary()
    mean = summary.get("mean_reward", math.nan)
    steps, length = _units(summary)
    lines = [f"{steps} {session.total_steps:,}   episodes {session.total_episodes:,}   mean length {length}",
             f"mean reward {'-' if math.isnan(mean) else f'{mean:.2f}'}   {session.steps_per_sec:,.0f} steps/s"]
    extras = session.agent.episode_extras()
    shown = [f"{k} {v:.3g}" for k, v in extras.items() if k in ("epsilon", "loss_last", "policy_loss", "value_loss")
             and not math.isnan(v)]
    return lines + (["   ".join(shown)] if shown else [])


# -- train ----------------------------------------------------------------------------------------

class _StopSignals:
    """While training: SIGINT (Ctrl-C) and SIGTERM ask the loop to stop at the end of the current tick,
    so agent, session and logs stop at the same step. A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def requested(self) -> bool:
        return self.signal is not None


def _check_root(root: str, parts: list[str]) -> None:
    """``--root`` and the directories under it must be directories (or not exist yet)."""
    path = Path(root)
    for i, part in enumerate([None, *parts]):
        path = path / part if part else path
        if path.exists() and not path.is_dir():
            what = "--root" if i == 0 else "run directory part"
            raise CommandError(f"{what} {path} is not a directory")


def _resume_config(resume: str, game_name: str | None, algo: str | None, envs: int | None, seed: int | None,
                   name: str | None, version: str | None) -> tuple[TrainingRun, dict, Game, str]:
    try:
        run_dir = TrainingRun.resume(resume)
        cfg = run_dir.read_config()
    except RunError as exc:
        raise CommandError(str(exc)) from None
    config_path = run_dir.path / "config.json"
    if not isinstance(cfg, dict) or not cfg:
        raise CommandError(f"{config_path} is missing or empty: {run_dir.path} was not made by 'ecs-rl train'")
    missing = [k for k in ("game", "algo", "envs", "seed", "steps", "agent") if k not in cfg]
    if missing:
        raise CommandError(f"{config_path} lacks {', '.join(missing)}: not made by 'ecs-rl train'")
    game = _load_game(cfg["game"], str(config_path))
    if game_name is not None:
        try:
            game_name = canonical_spec(game_name)
        except GameSpecError as exc:
            raise CommandError(str(exc)) from None
    if cfg["algo"] not in ("dqn", "ppo") or not isinstance(cfg["agent"], dict):
        raise CommandError(f"{config_path}: unknown algo {cfg['algo']!r}")
    for flag, given, saved in (("game", game_name, cfg["game"]), ("--algo", algo, cfg["algo"]),
                               ("--envs", envs, cfg["envs"]), ("--seed", seed, cfg["seed"]),
                               ("--name", name, run_dir.name), ("--version", version, run_dir.version)):
        if given is not None and given != saved:
            raise CommandError(f"--resume {run_dir.path}: the run has {flag.lstrip('-')} {saved!r}, "
                               f"not {given!r}; leave out {flag} or start a new run")
    return run_dir, cfg, game, cfg["algo"]


def train(game_name: str | None, algo: str | None, steps: int | None, envs: int | None, seed: int | None,
          render: bool, name: str | None, version: str | None, resume: str | None, root: str, eval_freq: int | None,
          full: bool, max_frames: int | None = None, progress: bool = True, checkpoint_every: int | None = None,
          checkpoint_seconds: float = 60.0, self_play: bool = False, tensorboard: bool = False,
          workers: int | None = None, ray_address: str | None = None) -> int:
    """``ecs-rl train``: one run of one learning policy; a game with several learning policies trains them all
    at once, one run each (see :func:`_train_teams`). ``workers``: the world runs in that many Ray workers
    (``envs`` agents each) feeding this process's session (see :mod:`ecs_rl.distributed`)."""
    if tensorboard:
        _check_tensorboard()
    new_cfg = None
    if ray_address is not None and not workers:
        raise CommandError("--ray-address needs --workers N")
    if workers and render:
        raise CommandError("--workers trains headless in Ray workers; leave out --render")
    if resume:
        run_dir, cfg, game, algo = _resume_config(resume, game_name, algo, envs, seed, name, version)
        if game.multi and workers:
            raise CommandError(_one_policy(game))
        if game.multi:
            return _train_teams(game, algo, steps, envs, seed, render, name, (run_dir, cfg), root, eval_freq,
                                max_frames, progress, checkpoint_every, checkpoint_seconds, version=version,
                                self_play=self_play, tensorboard=tensorboard)
        if self_play:
            raise CommandError(f"--self-play needs a game with two learning policies; {game.name} has one")
        envs, seed = cfg["envs"], cfg["seed"]
        steps = steps or cfg["steps"]
        agent_cfg = dict(cfg["agent"])
        if steps > cfg["steps"]:  # a larger budget: annealing schedules follow it
            if agent_cfg.get("anneal_steps") == cfg["steps"]:
                agent_cfg["anneal_steps"] = steps
            new_cfg = {**cfg, "steps": steps, "agent": agent_cfg}
        try:
            config = _config_from(algo, agent_cfg)
        except (TypeError, ValueError) as exc:
            raise CommandError(f"{run_dir.path / 'config.json'}: bad agent settings ({exc})") from None
        _fresh_world("ecs-rl:train")
        _build(game, envs, seed, f"{run_dir.path / 'config.json'}: envs {envs!r}, seed {seed!r}")
    else:
        game = _load_game(game_name)
        if game.multi and workers:
            raise CommandError(_one_policy(game))
        if game.multi:
            return _train_teams(game, algo, steps, envs, seed, render, name, None, root, eval_freq, max_frames,
                                progress, checkpoint_every, checkpoint_seconds, version=version, self_play=self_play,
                                tensorboard=tensorboard)
        if self_play:
            raise CommandError(f"--self-play needs a game with two learning policies; {game.name} has one")
        algo = algo or game.default_algo
        steps = steps or game.default_steps
        envs = envs or game.envs_for(algo)
        seed = 0 if seed is None else seed
        try:
            config = game.preset(algo, seed, steps)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        _fresh_world("ecs-rl:train")  # the world first: a game that cannot build leaves no run behind
        _build(game, envs, seed, f"--envs {envs}")
        _check_root(root, [name or game.name, version or algo])
        try:
            run_dir = TrainingRun.create(name or game.name, version or algo, root=root)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot create a run under {root}: {exc.strerror or exc}") from None
        run_dir.write_config({"game": game.spec, "algo": algo, "envs": envs, "seed": seed, "steps": steps,
                              "agent": asdict(config), **({"workers": workers} if workers else {})})
    eval_freq = eval_freq or game.eval_freq
    session = (TrainingSession(_make_agent(game, algo, config)).with_max_steps(steps)
               .with_checkpoint_freq(checkpoint_every or max(1, min(10_000, steps // 5)))
               .with_checkpoint_seconds(checkpoint_seconds))
    try:
        session.with_run(run_dir)
        if new_cfg is not None:
            run_dir.write_config(new_cfg)
    except (RunError, OSError) as exc:
        run_dir.release_lock()
        raise CommandError(str(exc)) from None
    for note in session.resume_notes:
        print(f"resume: {note}")
    if tensorboard:
        _attach_tensorboard(session, run_dir)
    if resume:
        print(f"resuming {run_dir.path} at step {session.total_steps:,} (episode {session.total_episodes:,})")
    evaluation = Evaluation(game.eval_factory, every=eval_freq, episodes=game.eval_episodes,
                            max_ticks=game.eval_max_ticks)
    if workers:  # the learner's bookkeeping (budget, evaluations); the worlds live in the workers
        plugin = Plugin({**game.extra_controllers(), game.policy: session}, game.reset, evaluation=evaluation,
                        on_end=game.on_end)
    else:
        plugin = game.install({game.policy: session}, evaluation=evaluation)

    def solved() -> bool:
        return (not full and game.solved_reward is not None and bool(plugin.eval_history)
                and plugin.eval_history[-1].mean_reward >= game.solved_reward)

    started = time.perf_counter()
    stop = _StopSignals()
    try:
        with stop, session:
            if session.is_done():
                print(f"the run already has {session.total_steps:,} of {steps:,} steps: nothing to train")
            elif workers:
                _train_workers(game, session, plugin, workers, envs, seed, ray_address,
                               lambda: solved() or stop.requested, progress)
            elif render:
                _train_window(game, session, plugin, lambda: solved() or stop.requested, max_frames)
            else:
                _train_headless(session, plugin, lambda: solved() or stop.requested, progress)
    except KeyboardInterrupt:  # a second Ctrl-C: session.__exit__ has saved latest.pt and the metadata
        stop.signal = signal.SIGINT
    except WriteError as exc:
        raise CommandError(str(exc)) from None
    if stop.requested:
        name_ = "SIGTERM" if stop.signal == signal.SIGTERM else "Ctrl-C"
        print(f"\ninterrupted ({name_}) at step {session.total_steps:,}: saved {run_dir.latest_path}\n"
              f"continue with: ecs-rl train --resume {run_dir.path}", flush=True)
        return 128 + int(stop.signal)
    wall = time.perf_counter() - started
    print(session.eval_report(session.total_episodes))
    evals = _eval_means(run_dir)
    if evals:
        print("greedy evaluations (step: mean reward): " + ", ".join(f"{step:,}: {m:.1f}" for step, m in evals))
    if solved():
        print(f"solved at step {plugin.eval_history[-1].step:,} in {wall:.1f}s")
    print(f"run: {run_dir.path}")
    return 0


def _check_tensorboard() -> None:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise CommandError("--tensorboard needs the tensorboard package: pip install 'ecs-rl[tensorboard]'")


def _attach_tensorboard(session: TrainingSession, run: TrainingRun) -> None:
    """``--tensorboard``: scalars in the run directory; a resumed run's steps after its checkpoint are replaced."""
    from .core.tensorboard import TensorBoardLogger

    session.with_logger(TensorBoardLogger(run.path, purge_step=session.total_steps if run.resumed else None))
    print(f"tensorboard: scalars in {run.path} (tensorboard --logdir {run.path.parent.parent.parent})")


def _one_policy(game: Game) -> str:
    return (f"--workers trains a game with one learning policy; {game.name} has {len(game.learning_policies)} "
            f"({', '.join(game.learning_policies)})")


def _train_workers(game: Game, session: TrainingSession, plugin: Plugin, workers: int, envs: int, seed: int,
                   address: str | None, stop, progress: bool) -> None:
    """The world in ``workers`` Ray workers, this process the learner (see :mod:`ecs_rl.distributed`)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise CommandError("--workers needs Ray: pip install 'ecs-rl[ray]'") from None
    from .distributed import train as train_distributed

    try:
        result = train_distributed(game, session, workers, envs=envs, seed=seed, address=address, stop=stop,
                                   progress=progress, plugin=plugin)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None
    nodes = len(set(result.nodes))
    print(f"{workers} workers on {nodes} node{'s' if nodes != 1 else ''}: {result.ticks:,} world ticks in "
          f"{result.seconds['wall']:.1f}s" + (f"; workers lost: {', '.join(map(str, result.dropped))}"
                                              if result.dropped else ""))


def _eval_means(run_dir: TrainingRun) -> list[tuple[int, float]]:
    """Every greedy evaluation in the run's log, earlier processes' included (a resumed run): (step, mean)."""
    by_step: dict[int, list[float]] = {}
    for row in run_dir.read_eval_episodes():
        by_step.setdefault(int(row["step"]), []).append(float(row["total_reward"]))
    return [(step, sum(r) / len(r)) for step, r in sorted(by_step.items())]


def _train_headless(session: TrainingSession, plugin: Plugin, solved, progress: bool) -> None:
    from tqdm import tqdm

    with tqdm(total=session.max_steps, initial=session.total_steps, unit="step", disable=not progress or None,
              dynamic_ncols=True, mininterval=0.5) as bar:
        seen, stall = session.total_steps, _Stall(n for n, e in plugin.policies.items() if e.session is session)
        while not plugin.done and not solved():
            step_world(solved, plugin=plugin, max_ticks=64)  # a stop request ends the loop at a tick boundary
            stall.check(64)
            bar.update(session.total_steps - seen)
            seen = session.total_steps
            mean = session.stats_summary().get("mean_reward", math.nan)
            bar.set_postfix(episodes=session.total_episodes, mean_reward=f"{mean:.2f}",
                            steps_s=f"{session.steps_per_sec:,.0f}", refresh=False)


def _train_window(game: Game, session: TrainingSession, plugin: Plugin, solved, max_frames: int | None) -> None:
    from .render.window import Window, live_loop

    window = Window(game.window, f"ecs-rl: training {game.title}")
    try:
        draw = game.draw_world()
        live_loop(window, FixedStep(game.sim_hz), lambda s: draw(s, None), lambda: _hud(session),
                  stop=lambda: plugin.done or solved(), max_frames=max_frames)
    finally:
        window.close()


# -- train: a game with several learning policies, one run each ------------------------------------

def _team_runs(run_dir: TrainingRun, cfg: dict, game: Game) -> dict[str, TrainingRun]:
    """Every learning policy's run of a multi-policy game, from one of them: its config.json names its
    ``policy`` and its ``partners`` (policy -> the partner run's path, relative to this run)."""
    config_path = run_dir.path / "config.json"
    policy, partners = cfg.get("policy"), cfg.get("partners")
    others = set(game.learning_policies) - {policy}
    if (policy not in game.learning_policies or not isinstance(partners, dict) or set(partners) != others
            or not all(isinstance(v, str) for v in partners.values())):
        raise CommandError(f"{config_path}: a {game.name} run names its policy (one of "
                           f"{', '.join(game.learning_policies)}) and its partner runs; this one does not")
    runs = {}
    for p in game.learning_policies:
        if p == policy:
            runs[p] = run_dir
            continue
        path = Path(os.path.normpath(run_dir.path / partners[p]))
        if not (path / "metadata.json").is_file():
            raise CommandError(f"the {p} run of {run_dir.path} is missing: no run at {path}")
        try:
            runs[p] = TrainingRun.resume(path)
            partner = runs[p].read_config()
        except RunError as exc:
            raise CommandError(str(exc)) from None
        for key in ("game", "algo", "envs", "seed"):
            if not isinstance(partner, dict) or partner.get(key) != cfg.get(key):
                raise CommandError(f"{path / 'config.json'}: its {key} differs from that of its partner {run_dir.path}")
        if partner.get("policy") != p or not isinstance(partner.get("agent"), dict) or "steps" not in partner:
            raise CommandError(f"{path / 'config.json'} is not the {p} run of a {game.name} training")
    return runs


def _train_teams(game: Game, algo: str | None, steps: int | None, envs: int | None, seed: int | None, render: bool,
                 name: str | None, resumed: tuple[TrainingRun, dict] | None, root: str, eval_freq: int | None,
                 max_frames: int | None, progress: bool, checkpoint_every: int | None, checkpoint_seconds: float,
                 version: str | None = None, self_play: bool = False, tensorboard: bool = False) -> int:
    """Train every learning policy of ``game`` at once in one world: one session and one run per policy,
    ``<root>/<name>/<policy>/<timestamp>/``. ``steps`` is each policy's budget (decisions of its agents); a
    policy that reaches it stops learning and plays greedily until every policy is done."""
    policies = game.learning_policies
    if version is not None:
        raise CommandError(f"--version: {game.name} trains one run per policy, named by the policy "
                           f"({', '.join(policies)}); leave out --version")
    eval_freq = eval_freq or game.eval_freq
    new_cfgs: dict[str, dict] = {}
    if resumed is not None:
        run_dir, cfg = resumed
        runs = _team_runs(run_dir, cfg, game)
        envs, seed = cfg["envs"], cfg["seed"]
        budgets, configs = {}, {}
        for p, run in runs.items():
            pcfg = cfg if run is run_dir else run.read_config()
            budgets[p] = steps or pcfg["steps"]
            agent_cfg = dict(pcfg["agent"])
            if budgets[p] > pcfg["steps"]:  # a larger budget: annealing schedules follow it
                if agent_cfg.get("anneal_steps") == pcfg["steps"]:
                    agent_cfg["anneal_steps"] = budgets[p]
                new_cfgs[p] = {**pcfg, "steps": budgets[p], "agent": agent_cfg}
            try:
                configs[p] = _config_from(algo, agent_cfg)
            except (TypeError, ValueError) as exc:
                raise CommandError(f"{run.path / 'config.json'}: bad agent settings ({exc})") from None
        _fresh_world("ecs-rl:train")
        _build(game, envs, seed, f"{run_dir.path / 'config.json'}: envs {envs!r}, seed {seed!r}")
    else:
        algo = algo or game.default_algo
        seed = 0 if seed is None else seed
        budgets = {p: steps or game.budget(p) for p in policies}
        try:
            configs = {p: game.preset(algo, seed + k, budgets[p], p) for k, p in enumerate(policies)}
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        envs = envs or game.envs_for(algo)
        _fresh_world("ecs-rl:train")
        _build(game, envs, seed, f"--envs {envs}")
        run_name = name or game.name
        for p in policies:
            _check_root(root, [run_name, p])
        runs = {}
        try:
            for p in policies:
                runs[p] = TrainingRun.create(run_name, p, root=root)
        except (ValueError, OSError) as exc:
            for run in runs.values():
                shutil.rmtree(run.path, ignore_errors=True)
            if isinstance(exc, OSError):
                raise CommandError(f"cannot create a run under {root}: {exc.strerror or exc}") from None
            raise CommandError(str(exc)) from None
        for p, run in runs.items():
            run.write_config({"game": game.spec, "algo": algo, "envs": envs, "seed": seed, "steps": budgets[p],
                              "policy": p, "partners": {q: os.path.relpath(runs[q].path, run.path)
                                                        for q in policies if q != p},
                              "agent": asdict(configs[p])})
    sessions = {p: (TrainingSession(_make_agent(game, algo, configs[p], p)).with_max_steps(budgets[p])
                    .with_checkpoint_freq(checkpoint_every or max(1, min(10_000, budgets[p] // 5)))
                    .with_checkpoint_seconds(checkpoint_seconds)) for p in policies}
    try:
        for run in runs.values():  # every lock first: a locked partner leaves both runs as they were
            run.acquire_lock()
        for p, run in runs.items():  # load every checkpoint before any run's logs are cut back
            sessions[p].open_run(run)
        for p in runs:
            sessions[p].finish_run()
        for p, new_cfg in new_cfgs.items():
            runs[p].write_config(new_cfg)
        selfplay = for_training(sessions, runs, self_play)  # --self-play, or resuming runs that had it
    except (RunError, OSError) as exc:
        for run in runs.values():
            run.release_lock(undo=True)
        raise CommandError(str(exc)) from None
    for p, session in sessions.items():
        for note in session.resume_notes:
            print(f"resume ({p}): {note}")
        if tensorboard:
            _attach_tensorboard(session, runs[p])
        if resumed is not None:
            print(f"resuming {runs[p].path} at step {session.total_steps:,} (episode {session.total_episodes:,})")
    plugin = game.install({**sessions, **(selfplay.ghosts() if selfplay else {})},
                          evaluation=Evaluation(game.eval_factory, every=eval_freq, episodes=game.eval_episodes,
                                                max_ticks=game.eval_max_ticks))

    started = time.perf_counter()
    stop = _StopSignals()
    try:
        with stop, contextlib.ExitStack() as stack:
            for session in sessions.values():
                stack.enter_context(session)
            if selfplay:
                stack.enter_context(selfplay.attach(plugin))  # writes the snapshot indexes when training stops
                for note in selfplay.notes:
                    print(f"resume (self-play): {note}")
            if all(s.is_done() for s in sessions.values()):
                print("the runs already have " + ", ".join(f"{s.total_steps:,} of {budgets[p]:,} {p} steps"
                                                          for p, s in sessions.items()) + ": nothing to train")
            elif render:
                _train_teams_window(game, sessions, budgets, plugin, lambda: plugin.done or stop.requested,
                                    max_frames)
            else:  # the plugin stops each policy at its budget: it plays greedily while the others train
                _train_teams_headless(sessions, budgets, plugin, lambda: stop.requested, progress)
    except KeyboardInterrupt:  # a second Ctrl-C: the sessions' __exit__ saved latest.pt and the metadata
        stop.signal = signal.SIGINT
    except WriteError as exc:
        raise CommandError(str(exc)) from None
    if stop.requested:
        name_ = "SIGTERM" if stop.signal == signal.SIGTERM else "Ctrl-C"
        saved = ", ".join(f"{p} at step {sessions[p].total_steps:,} in {runs[p].latest_path}" for p in policies)
        print(f"\ninterrupted ({name_}): saved {saved}\n"
              f"continue with: ecs-rl train --resume {runs[policies[0]].path}", flush=True)
        return 128 + int(stop.signal)
    wall = time.perf_counter() - started
    for p, session in sessions.items():
        print(session.eval_report(session.total_episodes, title=f"Training report: {p}"))
        evals = _eval_means(runs[p])
        if evals:
            print(f"{p} greedy evaluations (step: mean episode reward): "
                  + ", ".join(f"{step:,}: {m:.2f}" for step, m in evals))
    print("trained " + ", ".join(f"{p} {s.total_steps:,} steps / {s.total_episodes:,} episodes"
                                 for p, s in sessions.items()) + f" in {wall:.1f}s")
    if selfplay:
        print(selfplay.summary())
    for p in policies:
        print(f"{p} run: {runs[p].path}")
    return 0


def _team_hud(sessions: dict[str, TrainingSession], budgets: dict[str, int]) -> list[str]:
    lines = []
    for p, s in sessions.items():
        summary = s.stats_summary()
        mean = summary.get("mean_reward", math.nan)
        steps, length = _units(summary)
        lines.append(f"{p}: {steps} {s.total_steps:,}/{budgets[p]:,}   episodes {s.total_episodes:,}   "
                     f"mean length {length}   mean reward {'-' if math.isnan(mean) else f'{mean:.2f}'}")
    return lines


def _train_teams_headless(sessions: dict[str, TrainingSession], budgets: dict[str, int], plugin: Plugin,
                          stopping, progress: bool) -> None:
    from tqdm import tqdm

    def counted() -> int:
        return sum(min(s.total_steps, budgets[p]) for p, s in sessions.items())

    with tqdm(total=sum(budgets.values()), initial=counted(), unit="step", disable=not progress or None,
              dynamic_ncols=True, mininterval=0.5) as bar:
        seen, stall = counted(), _Stall(sessions)
        while not plugin.done and not stopping():
            step_world(stopping, plugin=plugin, max_ticks=64)
            stall.check(64)
            bar.update(counted() - seen)
            seen = counted()
            parts = []
            for p, s in sessions.items():
                mean = s.stats_summary().get("mean_reward", math.nan)
                parts.append(f"{p} {s.total_steps:,}/{budgets[p]:,} r={mean:.2f}")
            bar.set_postfix_str("  ".join(parts), refresh=False)


def _train_teams_window(game: Game, sessions: dict[str, TrainingSession], budgets: dict[str, int], plugin: Plugin,
                        stop, max_frames: int | None) -> None:
    from .render.window import Window, live_loop

    window = Window(game.window, f"ecs-rl: training {game.title}")
    try:
        live_loop(window, FixedStep(game.sim_hz), lambda s: game.draw_world()(s, None),
                  lambda: _team_hud(sessions, budgets), stop=stop, max_frames=max_frames)
    finally:
        window.close()


# -- evaluate / watch / play ----------------------------------------------------------------------

def _run_and_game(path: str, game: str | None = None, default: str | None = None) -> tuple[TrainingRun, Game, Path]:
    """The run at ``path``, the game it trained, and its best (else latest) checkpoint. The game is the one its
    config.json names; a run without one (made from Python) needs ``game`` (``--game``, which must agree with
    the run's when both are there) or takes ``default``."""
    try:
        run_dir = TrainingRun.resume(path)
    except RunError as exc:
        raise CommandError(str(exc)) from None
    cfg = run_dir.read_config()
    config_path = run_dir.path / "config.json"
    if not isinstance(cfg, dict) or "game" not in cfg:
        game = game or default
        if game is None:
            raise CommandError(f"{config_path} names no game (a run made from Python): pass --game GAME (cartpole, "
                               f"foragers, hunt, path/to/game.py:make_game or module:make_game), or record it in "
                               f"the run with run.write_config({{\"game\": ...}})")
        return run_dir, _load_game(game), _checkpoint(run_dir)
    if game is not None:
        try:
            same = canonical_spec(game) == canonical_spec(cfg["game"])
        except GameSpecError as exc:
            raise CommandError(str(exc)) from None
        if not same:
            raise CommandError(f"--game {game}: {run_dir.path} was trained on {cfg['game']!r} ({config_path}); "
                               f"leave out --game")
    return run_dir, _load_game(cfg["game"], str(config_path)), _checkpoint(run_dir)


def _checkpoint(run_dir: TrainingRun | Path) -> Path:
    """A run's best.pt, else its latest.pt."""
    path = run_dir.path if isinstance(run_dir, TrainingRun) else run_dir
    for name in ("best.pt", "latest.pt"):
        if (path / CHECKPOINTS / name).is_file():
            return path / CHECKPOINTS / name
    raise CommandError(f"{path} has no best.pt or latest.pt checkpoint yet")


def _team_policies(run_dir: TrainingRun, game: Game) -> tuple[dict[str, Any], dict[str, Path]]:
    """The greedy policy of every team of a multi-policy game (best.pt, else latest.pt, of each run)."""
    runs = _team_runs(run_dir, run_dir.read_config(), game)
    checkpoints = {p: _checkpoint(run) for p, run in runs.items()}
    return {p: _load_policy(c) for p, c in checkpoints.items()}, checkpoints


def _load_policy(checkpoint: Path):
    from .algorithms import CheckpointError, GreedyPolicy

    try:
        return GreedyPolicy.load(checkpoint)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None


def evaluate(path: str, episodes: int | None, seed: int, render: bool, max_frames: int | None = None,
             baseline: bool = False, game: str | None = None) -> int:
    """``ecs-rl eval``: greedy episodes of a run's best (else latest) checkpoint; ``game`` for a run without
    config.json (made from Python)."""
    run_dir, game, checkpoint = _run_and_game(path, game)
    if game.multi:
        return _evaluate_teams(run_dir, game, episodes, seed, render, baseline)
    n = episodes or game.eval_episodes
    title = f"ecs-rl: evaluating {run_dir.path.name}" if render else None
    records = _episodes(game, _load_policy(checkpoint), n, seed, title, max_frames)
    print(report_for(records, f"Evaluation of {run_dir.path} ({checkpoint.name}, greedy)"))
    if baseline:
        print()
        print(report_for(random_baseline(game, n, seed), "Random policy, same episodes"))
    return 0


def _evaluate_teams(run_dir: TrainingRun, game: Game, worlds: int | None, seed: int, render: bool,
                    baseline: bool) -> int:
    """Each team's greedy score with the game's own scoring function, over ``worlds`` worlds from ``seed`` on;
    with ``baseline`` also a random team in its place against the other trained teams, on the same worlds."""
    score = game.scorer
    if render:
        raise CommandError(f"{game.name}'s teams are evaluated headless: see them play with "
                           f"'ecs-rl watch {run_dir.path}'")
    policies, checkpoints = _team_policies(run_dir, game)
    if score is None:  # no scoring function of its own: each team's episodes, the other teams greedy
        n = worlds or game.eval_episodes
        for p in policies:
            others = {q: policy for q, policy in policies.items() if q != p}
            trained = evaluate_policy(game, policies[p], n, seed=seed, name=p, others=others)
            print(report_for(trained.records, f"Evaluation of team {p} ({checkpoints[p]}, greedy; the other "
                                              f"teams greedy)"))
            if baseline:
                print()
                print(report_for(evaluate_policy(game, "random", n, seed=seed, name=p, others=others).records,
                                 f"Team {p} as a random policy, same episodes"))
            print()
        return 0
    n = run_dir.read_config().get("envs") or game.envs_for()
    worlds = worlds or game.score_worlds
    seeds = list(range(seed, seed + worlds))
    trained = score(policies, n, seeds)
    randoms = {}
    if baseline:
        for k, p in enumerate(policies):
            random_team = RandomAgent(game.spaces(p)[1], seed=seed + k)
            randoms[p] = score({**policies, p: random_team}, n, seeds)[p]
    print(f"Evaluation of the {game.title} teams: {game.score_label}; {worlds} world(s) of {n} agents, "
          f"seeds {seeds[0]}..{seeds[-1]}")
    header = ["team", "trained"] + (["random"] if baseline else []) + ["checkpoint"]
    rows = [[p, f"{trained[p]:+.2f}"] + ([f"{randoms[p]:+.2f}"] if baseline else []) + [str(checkpoints[p])]
            for p in policies]
    print(format_table(header, rows, align="l" + "r" * (len(header) - 2) + "l"))
    if baseline:
        print("random: a random team in that team's place, against the other trained team(s), same worlds")
    return 0


def _episodes(game: Game, policy: Any, n: int, seed: int, window_title: str | None = None,
              max_frames: int | None = None) -> list[EpisodeRecord]:
    """``n`` greedy episodes in a fresh world of ``n`` agent entities (in a window if ``window_title``)."""
    drive = None
    if window_title is not None:
        from .render.window import Window, live_loop

        def drive(stop) -> None:
            window, draw = Window(game.window, window_title), game.draw_world()
            try:
                live_loop(window, FixedStep(game.sim_hz), lambda s: draw(s, None), lambda: ["greedy episodes"],
                          stop=stop, max_frames=max_frames)
            finally:
                window.close()

    try:
        return evaluate_policy(game, policy, n, seed=seed, drive=drive).records
    except (TypeError, ValueError) as exc:
        raise CommandError(f"evaluating {game.name}: {exc}") from None


def report_for(records: list[EpisodeRecord], title: str) -> EvalReport:
    stats = (StatsTracker().track("mean_reward", "reward", Mean()).track("std_reward", "reward", Std())
             .track("min_reward", "reward", Min()).track("max_reward", "reward", Max())
             .track("mean_length", "length", Mean()).track("mean_decisions", extra("decisions"), Mean()))
    for record in records:
        stats.update(record)
    return EvalReport(len(records), stats.summary(), title=title)


def watch(path: str, max_frames: int | None, screenshot: str | None, seed: int, game: str | None = None) -> int:
    """``ecs-rl watch``: a run's best (else latest) checkpoint playing greedily in a window; ``game`` for a run
    without config.json (made from Python)."""
    run_dir, game, checkpoint = _run_and_game(path, game)
    if game.multi:
        policies, checkpoints = _team_policies(run_dir, game)
        _fresh_world("ecs-rl:watch")
        _build(game, run_dir.read_config().get("envs") or game.envs_for(), seed, f"{run_dir.path / 'config.json'}")
        plugin = game.install(policies, learning=False)
        which = ", ".join(f"{p} {c.name}" for p, c in checkpoints.items())
        return _show(game, plugin, f"ecs-rl: {game.title} ({which})", max_frames, screenshot,
                     lambda: [line for p in policies for line in _episode_lines(plugin, p, p)])
    policy = _load_policy(checkpoint)
    _fresh_world("ecs-rl:watch")
    _build(game, run_dir.read_config().get("envs") or game.envs_for(), seed, f"{run_dir.path / 'config.json'}")
    plugin = game.install({game.policy: policy}, learning=False)
    return _show(game, plugin, f"ecs-rl: {run_dir.path.name} ({checkpoint.name})", max_frames, screenshot,
                 lambda: _episode_lines(plugin, game.policy))


def play(game_name: str, path: str | None, max_frames: int | None, screenshot: str | None, seed: int) -> int:
    game = _load_game(game_name)
    from .render import window  # noqa: F401  (pygame is needed: fail before any world is built)

    if game.multi:
        return _play_teams(game, path, max_frames, screenshot, seed)
    others: Any = RandomAgent(game.spaces(game.policy)[1], seed=seed)
    if path is not None:
        _, trained_game, checkpoint = _run_and_game(path, default=game_name)
        if trained_game.name != game.name:
            raise CommandError(f"{path} holds a {trained_game.name!r} agent, not a {game.name!r} one")
        others = _load_policy(checkpoint)
    _fresh_world("ecs-rl:play")
    _build(game, game.envs_for(), seed, f"game {game.name}")
    mine = sorted(e for e, agent in esper.get_component(Agent) if agent.policy == game.policy)
    if not mine:
        raise CommandError(f"game {game.name}: build() made no agent entity of policy {game.policy!r}")
    human = HumanController(game.spaces(game.policy)[1], default=game.idle(0))
    esper.component_for_entity(mine[0], Agent).policy = game.human_policy
    plugin = game.install({game.policy: others, game.human_policy: human}, learning=False)
    on_events, keys = _keyboard_for(game, human)
    return _show(game, plugin, f"ecs-rl: play {game.title} (keys: {keys})", max_frames, screenshot,
                 lambda: _episode_lines(plugin, game.human_policy, "you"), human_entity=mine[0], on_events=on_events)


def _keyboard_for(game: Game, human: HumanController):
    """The window's event hook that turns the game's keys into the person's action, and the keys as text."""
    from .render.window import KeyboardInput

    try:
        keyboard = KeyboardInput(game.keys, game.idle)
    except ValueError as exc:
        raise CommandError(f"game {game.name}: keys: {exc}") from None

    def on_events(events, tick: int) -> None:
        keyboard.handle(events)
        human.set_action(keyboard.action(tick))

    return on_events, ", ".join(f"{k} -> {v}" for k, v in game.keys.items())


def _play_teams(game: Game, path: str | None, max_frames: int | None, screenshot: str | None, seed: int) -> int:
    """A person plays one agent of ``game.human``'s team (and each of its replacements) among the teams: random,
    or the trained teams of the run at ``path``."""
    if game.human is None:
        raise CommandError(f"{game.name} has no agent a person can play")
    others: dict[str, Any] = {p: RandomAgent(game.spaces(p)[1], seed=seed + k)
                              for k, p in enumerate(game.learning_policies)}
    if path is not None:
        run_dir, trained_game, _ = _run_and_game(path)
        if trained_game.name != game.name:
            raise CommandError(f"{path} holds a {trained_game.name!r} agent, not a {game.name!r} one")
        others = _team_policies(run_dir, game)[0]
    _fresh_world("ecs-rl:play")
    _build(game, game.envs_for(), seed, f"game {game.name}", human=True)
    you = game.human_policy
    human = HumanController(game.spaces(game.human)[1], default=game.idle(0))
    plugin = game.install({**others, you: human}, learning=False)
    on_events, keys = _keyboard_for(game, human)
    return _show(game, plugin, f"ecs-rl: play {game.title} as a {game.human} (keys: {keys})", max_frames, screenshot,
                 lambda: _episode_lines(plugin, you, f"you ({game.human})")
                 + [line for p in others for line in _episode_lines(plugin, p, p)], on_events=on_events)


def _episode_lines(plugin: Plugin, policy: str, who: str = "agents") -> list[str]:
    stats = plugin.policies[policy].stats
    mean = stats.get("mean_reward")
    return [f"{who}: episodes {stats.episodes}   mean reward {'-' if math.isnan(mean) else f'{mean:.2f}'}"]


def _show(game: Game, plugin: Plugin, title: str, max_frames: int | None, screenshot: str | None, hud,
          human_entity: int | None = None, on_events=None) -> int:
    from .render.window import Window, live_loop

    window = Window(game.window, title)
    try:
        draw = game.draw_world()
        live_loop(window, FixedStep(game.sim_hz), lambda s: draw(s, human_entity), hud,
                  on_events=on_events, max_frames=max_frames)
        if screenshot:
            try:
                window.screenshot(screenshot)
            except Exception as exc:  # pygame.error (its own exception type) or OSError
                raise CommandError(f"--screenshot: cannot write {screenshot}: {exc}") from None
            print(f"screenshot: {screenshot}")
    finally:
        window.close()
    return 0


def export(path: str, output: str, checkpoint: str | None = None) -> int:
    """Write a run's greedy policy (best.pt, else latest.pt; or ``checkpoint``) to ``output`` (.npz or .onnx)."""
    out = Path(output)
    if not out.parent.is_dir():
        raise CommandError(f"argument -o/--output: directory {out.parent} does not exist")
    if out.is_dir():
        raise CommandError(f"argument -o/--output: {out} is a directory")
    from .algorithms.export import ExportError, check_target, describe, export_policy

    try:
        check_target(out)
    except ExportError as exc:
        raise CommandError(f"argument -o/--output: {exc}") from None
    source = _export_source(Path(path), checkpoint)
    policy = _load_policy(source)
    try:
        checked = export_policy(policy, out)
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    header, _ = describe(policy)
    arch = header["architecture"]
    print(f"exported {source} to {out} ({header['algorithm']} {arch['activation']} MLP {arch['sizes']}, "
          f"{out.stat().st_size:,} bytes; the checkpoint: {source.stat().st_size:,} bytes"
          + ("; same actions as the checkpoint's network on 1,000 random observations" if checked else "")
          + f"); load it with ecs_rl.inference.load_policy"
          f"({str(out)!r})")
    return 0


def _export_source(path: Path, checkpoint: str | None) -> Path:
    """The checkpoint to export: ``path`` itself if it is a file, else the run's ``checkpoint`` (a name in its
    checkpoints/ such as best, latest or step_5000, or a file), by default best.pt, else latest.pt."""
    if path.is_file():
        if checkpoint is not None:
            raise CommandError(f"{path} is a checkpoint file already; --checkpoint names one of a run directory")
        return path
    try:
        run_dir = TrainingRun.find(path)
    except RunError as exc:
        raise CommandError(str(exc)) from None
    _refuse_team_name(path, run_dir)
    if checkpoint is None:
        return _checkpoint(run_dir)
    folder = run_dir / CHECKPOINTS
    if (folder / f"{checkpoint}.pt").is_file():
        return folder / f"{checkpoint}.pt"
    if Path(checkpoint).is_file():
        return Path(checkpoint)
    held = sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []
    raise CommandError(f"argument --checkpoint: {run_dir} has no checkpoint {checkpoint!r} and no such file exists;"
                       f" its checkpoints: {', '.join(held) or 'none yet'}")


def _refuse_team_name(path: Path, run_dir: Path) -> None:
    """A game's name directory whose newest run is one policy of several trained together (Hunt's prey and
    predators) is ambiguous: one file holds one policy, so the user names it (``runs/hunt/prey``)."""
    if path == run_dir or any(path.glob("*/metadata.json")):  # a run, or a version directory
        return
    try:
        cfg = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    partners = cfg.get("partners") if isinstance(cfg, dict) else None
    if isinstance(partners, dict) and partners and isinstance(cfg.get("policy"), str):
        policies = sorted([cfg["policy"], *map(str, partners)])
        raise CommandError(f"{path} holds the runs of {len(policies)} policies trained together "
                           f"({', '.join(policies)}) and a file holds one: export each from its own directory "
                           f"(ecs-rl export {path / policies[0]} -o {policies[0]}.npz)")


def random_baseline(game: Game, episodes: int, seed: int) -> list[EpisodeRecord]:
    """Episodes of a random policy in the game's evaluation setting (for comparisons)."""
    return _episodes(game, RandomAgent(game.spaces(game.policy)[1], seed=seed), episodes, seed)


__all__ = ["CommandError", "evaluate", "export", "play", "random_baseline", "report_for", "train", "watch"]
