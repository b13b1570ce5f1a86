"""What the ``ecs-rl`` subcommands do: train, evaluate, watch and play the demo games."""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import esper

from .core.agent import RandomAgent
from .core.files import WriteError
from .core.run import RunError, TrainingRun
from .core.session import TrainingSession
from .core.stats import EvalReport, Max, Mean, Min, StatsTracker, Std
from .core.types import EpisodeRecord
from .ecs.components import Agent
from .ecs.controllers import HumanController
from .ecs.evaluation import Evaluation
from .ecs.plugin import Plugin, install, run_episodes
from .ecs.runner import FixedStep, step_world
from .games import Game, get_game


class CommandError(Exception):
    """A mistake in what the user asked for: reported as one line, no traceback."""


def _make_agent(game: Game, algo: str, config: Any):
    from .algorithms import DqnAgent, PpoAgent

    world = game.world
    kind = {"dqn": DqnAgent, "ppo": PpoAgent}[algo]
    return kind(world.observation_space, world.action_space, config)


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


def _hud(session: TrainingSession) -> list[str]:
    summary = session.stats_summary()
    mean = summary.get("mean_reward", math.nan)
    lines = [f"steps {session.total_steps:,}   episodes {session.total_episodes:,}",
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
    try:
        game = get_game(cfg["game"])
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{config_path}: {exc}") from None
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
          render: bool, name: str | None, version: str | None, resume: str | None, root: str, eval_freq: int,
          full: bool, max_frames: int | None = None, progress: bool = True, checkpoint_every: int | None = None,
          checkpoint_seconds: float = 60.0) -> int:
    new_cfg = None
    if resume:
        run_dir, cfg, game, algo = _resume_config(resume, game_name, algo, envs, seed, name, version)
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
    else:
        try:
            game = get_game(game_name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        algo = algo or game.default_algo
        steps = steps or game.default_steps
        envs = envs or game.default_envs[algo]
        seed = 0 if seed is None else seed
        try:
            config = game.preset(algo, seed, steps)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        _check_root(root, [name or game.name, version or algo])
        try:
            run_dir = TrainingRun.create(name or game.name, version or algo, root=root)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot create a run under {root}: {exc.strerror or exc}") from None
        run_dir.write_config({"game": game.name, "algo": algo, "envs": envs, "seed": seed, "steps": steps,
                              "agent": asdict(config)})
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
    if resume:
        print(f"resuming {run_dir.path} at step {session.total_steps:,} (episode {session.total_episodes:,})")
    _fresh_world("ecs-rl:train")
    game.world.build(envs, seed, game.policy)
    plugin = install({game.policy: session}, reset=game.world.reset,
                     evaluation=Evaluation(game.world.factory(game.policy), every=eval_freq,
                                           episodes=game.eval_episodes))

    def solved() -> bool:
        return (not full and game.solved_reward is not None and bool(plugin.eval_history)
                and plugin.eval_history[-1].mean_reward >= game.solved_reward)

    started = time.perf_counter()
    stop = _StopSignals()
    try:
        with stop, session:
            if session.is_done():
                print(f"the run already has {session.total_steps:,} of {steps:,} steps: nothing to train")
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
    if plugin.eval_history:
        print("greedy evaluations (step: mean reward): "
              + ", ".join(f"{r.step:,}: {r.mean_reward:.1f}" for r in plugin.eval_history))
    if solved():
        print(f"solved at step {plugin.eval_history[-1].step:,} in {wall:.1f}s")
    print(f"run: {run_dir.path}")
    return 0


def _train_headless(session: TrainingSession, plugin: Plugin, solved, progress: bool) -> None:
    from tqdm import tqdm

    with tqdm(total=session.max_steps, initial=session.total_steps, unit="step", disable=not progress or None,
              dynamic_ncols=True, mininterval=0.5) as bar:
        seen = session.total_steps
        while not plugin.done and not solved():
            step_world(64, plugin=plugin)
            bar.update(session.total_steps - seen)
            seen = session.total_steps
            mean = session.stats_summary().get("mean_reward", math.nan)
            bar.set_postfix(episodes=session.total_episodes, mean_reward=f"{mean:.2f}",
                            steps_s=f"{session.steps_per_sec:,.0f}", refresh=False)


def _train_window(game: Game, session: TrainingSession, plugin: Plugin, solved, max_frames: int | None) -> None:
    from .render.window import Window, live_loop

    window = Window(game.window, f"ecs-rl: training {game.title}")
    try:
        live_loop(window, FixedStep(game.sim_hz), game.render.draw_world, lambda: _hud(session),
                  stop=lambda: plugin.done or solved(), max_frames=max_frames)
    finally:
        window.close()


# -- evaluate / watch / play ----------------------------------------------------------------------

def _run_and_game(path: str) -> tuple[TrainingRun, Game, Path]:
    """The run at ``path``, the game it trained, and its best (else latest) checkpoint."""
    try:
        run_dir = TrainingRun.resume(path)
    except RunError as exc:
        raise CommandError(str(exc)) from None
    cfg = run_dir.read_config()
    if "game" not in cfg:
        raise CommandError(f"{run_dir.path} was not made by 'ecs-rl train' (config.json names no game)")
    checkpoint = run_dir.best_path if run_dir.best_path.exists() else run_dir.latest_path
    if not checkpoint.exists():
        raise CommandError(f"{run_dir.path} has no best.pt or latest.pt checkpoint yet")
    return run_dir, get_game(cfg["game"]), checkpoint


def _load_policy(checkpoint: Path):
    from .algorithms import CheckpointError, GreedyPolicy

    try:
        return GreedyPolicy.load(checkpoint)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None


def evaluate(path: str, episodes: int | None, seed: int, render: bool, max_frames: int | None = None,
             baseline: bool = False) -> int:
    run_dir, game, checkpoint = _run_and_game(path)
    n = episodes or game.eval_episodes
    title = f"ecs-rl: evaluating {run_dir.path.name}" if render else None
    records = _episodes(game, _load_policy(checkpoint), n, seed, title, max_frames)
    print(report_for(records, f"Evaluation of {run_dir.path} ({checkpoint.name}, greedy)"))
    if baseline:
        print()
        print(report_for(random_baseline(game, n, seed), "Random policy, same episodes"))
    return 0


def _episodes(game: Game, policy: Any, n: int, seed: int, window_title: str | None = None,
              max_frames: int | None = None) -> list[EpisodeRecord]:
    """``n`` greedy episodes in a fresh world of ``n`` agent entities (in a window if ``window_title``)."""
    drive = None
    if window_title is not None:
        from .render.window import Window, live_loop

        def drive(stop) -> None:
            window = Window(game.window, window_title)
            try:
                live_loop(window, FixedStep(game.sim_hz), game.render.draw_world, lambda: ["greedy episodes"],
                          stop=stop, max_frames=max_frames)
            finally:
                window.close()

    results = run_episodes(game.world.factory(game.policy), {game.policy: policy}, n, seed=seed,
                           reset=game.world.reset, world="ecs-rl:eval", drive=drive)
    return results[game.policy].records


def report_for(records: list[EpisodeRecord], title: str) -> EvalReport:
    stats = (StatsTracker().track("mean_reward", "reward", Mean()).track("std_reward", "reward", Std())
             .track("min_reward", "reward", Min()).track("max_reward", "reward", Max())
             .track("mean_length", "length", Mean()))
    for record in records:
        stats.update(record)
    return EvalReport(len(records), stats.summary(), title=title)


def watch(path: str, max_frames: int | None, screenshot: str | None, seed: int) -> int:
    run_dir, game, checkpoint = _run_and_game(path)
    policy = _load_policy(checkpoint)
    _fresh_world("ecs-rl:watch")
    game.world.build(run_dir.read_config().get("envs", game.default_envs[game.default_algo]), seed, game.policy)
    plugin = Plugin({game.policy: policy}, game.world.reset, learning=False).install()
    return _show(game, plugin, f"ecs-rl: {run_dir.path.name} ({checkpoint.name})", max_frames, screenshot,
                 lambda: _episode_lines(plugin, game.policy))


def play(game_name: str, path: str | None, max_frames: int | None, screenshot: str | None, seed: int) -> int:
    try:
        game = get_game(game_name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    from .render.window import KeyboardInput

    others: Any = RandomAgent(game.world.action_space, seed=seed)
    if path is not None:
        _, trained_game, checkpoint = _run_and_game(path)
        if trained_game.name != game.name:
            raise CommandError(f"{path} holds a {trained_game.name!r} agent, not a {game.name!r} one")
        others = _load_policy(checkpoint)
    _fresh_world("ecs-rl:play")
    entities = game.world.build(game.default_envs[game.default_algo], seed, game.policy)
    human = HumanController(game.world.action_space, default=game.idle(0))
    esper.component_for_entity(entities[0], Agent).policy = "human"
    plugin = Plugin({game.policy: others, "human": human}, game.world.reset, learning=False).install()
    keyboard = KeyboardInput(game.keys, game.idle)

    def on_events(events, tick: int) -> None:
        keyboard.handle(events)
        human.set_action(keyboard.action(tick))

    keys = ", ".join(f"{k} -> {v}" for k, v in game.keys.items())
    return _show(game, plugin, f"ecs-rl: play {game.title} (keys: {keys})", max_frames, screenshot,
                 lambda: _episode_lines(plugin, "human", "you"), human_entity=entities[0], on_events=on_events)


def _episode_lines(plugin: Plugin, policy: str, who: str = "agents") -> list[str]:
    stats = plugin.policies[policy].stats
    mean = stats.get("mean_reward")
    return [f"{who}: episodes {stats.episodes}   mean reward {'-' if math.isnan(mean) else f'{mean:.2f}'}"]


def _show(game: Game, plugin: Plugin, title: str, max_frames: int | None, screenshot: str | None, hud,
          human_entity: int | None = None, on_events=None) -> int:
    from .render.window import Window, live_loop

    window = Window(game.window, title)
    try:
        live_loop(window, FixedStep(game.sim_hz), lambda s: game.render.draw_world(s, human_entity), hud,
                  on_events=on_events, max_frames=max_frames)
        if screenshot:
            window.screenshot(screenshot)
            print(f"screenshot: {screenshot}")
    finally:
        window.close()
    return 0


def random_baseline(game: Game, episodes: int, seed: int) -> list[EpisodeRecord]:
    """Episodes of a random policy in the game's evaluation setting (for comparisons)."""
    return _episodes(game, RandomAgent(game.world.action_space, seed=seed), episodes, seed)


__all__ = ["CommandError", "evaluate", "play", "random_baseline", "report_for", "train", "watch"]
