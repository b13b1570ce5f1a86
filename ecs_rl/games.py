"""A game, as the ``ecs-rl`` command sees it: the public game spec and how a spec string finds one.

A game module defines ``make_game()`` returning a ``Game``; ``ecs-rl train path/to/game.py:make_game``
(or ``pkg.module:make_game``, or a name registered under the ``ecs_rl.games`` entry-point group, or a
built-in name) loads it, and the run's ``config.json`` records that spec string so ``eval``, ``watch``,
``play`` and ``--resume`` find the game again. The built-in games declare themselves the same way
(``ecs_rl.worlds.cartpole:make_game``, ...). This module imports neither esper, torch nor pygame.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Mapping

ENTRY_POINT_GROUP = "ecs_rl.games"

#: The built-in games: name -> spec (the same kind of spec a user passes).
BUILTIN_GAMES: dict[str, str] = {
    "cartpole": "ecs_rl.worlds.cartpole:make_game",
    "foragers": "ecs_rl.worlds.foragers:make_game",
    "hunt": "ecs_rl.worlds.hunt:make_game",
}


class GameSpecError(ValueError):
    """A game spec that does not lead to a game (shown to a command-line user as one line)."""


def _no_keys(tick: int) -> int:
    return 0


@dataclass(frozen=True)
class Game:
    """What a game gives ecs-rl, so that ``ecs-rl train/eval/watch/play`` and ``ecs_rl.evaluate`` run it.

    A game module defines ``make_game()`` returning one; ``name``, ``policies`` and ``build`` are required,
    everything else has a default.

    Attributes:
        name: short name (runs go under ``runs/<name>/``).
        policies: each learning policy (the ``Agent(policy=...)`` name) -> ``(observation_space,
            action_space)`` (gymnasium spaces). The first is the game's main policy; with several,
            ``ecs-rl train`` trains them all at once, one run each.
        build: ``build(n, seed)`` creates ``n`` agent entities (entity i seeded ``seed + i``) and the game's
            processors in the current esper world.
        reset: ``reset(entity, seed)``, the reset hook that starts an agent's next episode in place; ``None``
            means the game deletes ended agents and spawns new ones itself (``on_end="delete"``).
        title: the name windows show (default: ``name``).
        factory: ``factory(episodes, seed)`` builds the world evaluations score (each agent it builds plays
            one episode; default: ``build``).
        controllers: ``controllers()`` -> ``{policy: controller}`` for non-learning agents the game builds
            beside the learners.
        presets: ``"dqn"`` / ``"ppo"`` (or ``"<policy>/<algo>"``) -> ``preset(seed, total_steps)`` returning
            the agent config (a game without presets trains with the algorithm's defaults; one with presets
            refuses an algorithm it has none for).
        draw: ``draw(surface, human_entity)`` draws the current world on a pygame surface (a callable, or a
            ``"module:function"`` string imported when a window opens).
        window: the window's size in pixels.
        sim_hz: ticks per second at normal speed in a window.
        keys: pygame key name -> action, for ``ecs-rl play``.
        idle: ``idle(tick)`` -> the action when no key is held.
        human: the policy a person plays in a multi-policy game (``build(n, seed, human=policy)`` gives that
            agent the policy ``human_policy``).
        human_policy: the policy name of the agent a person drives.
        default_algo: ``ecs-rl train``'s algorithm when ``--algo`` is not given (``"dqn"`` or ``"ppo"``).
        envs: agent entities ``ecs-rl train`` builds (a number, or algo -> number).
        default_steps: ``ecs-rl train``'s step budget (decisions of the main policy's agents).
        policy_steps: per-policy budgets of a multi-policy game.
        eval_freq: steps between greedy evaluations.
        eval_episodes: episodes per evaluation.
        eval_max_ticks: an evaluation's tick limit (unfinished episodes are counted as truncated).
        solved_reward: training stops once a greedy evaluation's mean reaches it (None: never early).
        scorer: ``scorer(policies, n, seeds)`` -> ``{policy: score}``, a multi-policy game's own measure for
            ``ecs-rl eval``.
        score_worlds: worlds ``scorer`` plays by default.
        score_label: what ``scorer``'s number is called in reports.
        spec: how the game was found (set by ``load_game``; a run's ``config.json`` records it).
    """

    name: str
    policies: Mapping[str, tuple[Any, Any]]
    build: Callable[..., Any]
    reset: Callable[[int, "int | None"], None] | None = None
    title: str = ""
    factory: Callable[[int, "int | None"], Any] | None = None
    controllers: Callable[[], Mapping[str, Any]] | None = None
    presets: Mapping[str, Callable[[int, int], Any]] = field(default_factory=dict)
    draw: Callable[..., None] | str | None = None
    window: tuple[int, int] = (640, 480)
    sim_hz: float = 30.0
    keys: Mapping[str, int] = field(default_factory=dict)
    idle: Callable[[int], int] = _no_keys
    human: str | None = None
    human_policy: str = "human"
    default_algo: str = "dqn"
    envs: int | Mapping[str, int] = 1
    default_steps: int = 50_000
    policy_steps: Mapping[str, int] = field(default_factory=dict)
    eval_freq: int = 5_000
    eval_episodes: int = 10
    eval_max_ticks: int = 10_000
    solved_reward: float | None = None
    scorer: Callable[..., Mapping[str, float]] | None = None
    score_worlds: int = 4
    score_label: str = "score"
    spec: str = ""  # how it was found (set by load_game; config.json records it)

    def __post_init__(self) -> None:
        where = f"game {self.name!r}" if isinstance(self.name, str) and self.name else "a game"
        if not isinstance(self.name, str) or not self.name.strip() or any(c in self.name for c in "/\\:"):
            raise GameSpecError(f"{where}: name must be a non-empty string without '/', '\\' or ':', "
                                f"got {self.name!r}")
        if not isinstance(self.policies, Mapping) or not self.policies:
            raise GameSpecError(f"{where}: policies must map each learning policy to "
                                f"(observation_space, action_space), got {self.policies!r}")
        for policy, spaces in self.policies.items():
            if (not isinstance(policy, str) or not isinstance(spaces, (tuple, list)) or len(spaces) != 2
                    or not all(hasattr(s, "sample") and hasattr(s, "contains") for s in spaces)):
                raise GameSpecError(f"{where}: policies[{policy!r}] must be (observation_space, action_space), "
                                    f"two gymnasium spaces, got {spaces!r}")
        for attr in ("build", "reset", "factory", "controllers", "scorer", "idle"):
            value = getattr(self, attr)
            if value is not None and not callable(value) or attr in ("build", "idle") and value is None:
                raise GameSpecError(f"{where}: {attr} must be a function, got {value!r}")
        if self.draw is not None and not callable(self.draw) and not (isinstance(self.draw, str) and ":" in self.draw):
            raise GameSpecError(f"{where}: draw must be a function or a 'module:function' string, got {self.draw!r}")
        if self.human is not None and self.human not in self.policies:
            raise GameSpecError(f"{where}: human {self.human!r} is not one of its policies "
                                f"({', '.join(self.policies)})")
        if self.default_algo not in ("dqn", "ppo"):
            raise GameSpecError(f"{where}: default_algo must be 'dqn' or 'ppo', got {self.default_algo!r}")
        for attr in ("default_steps", "eval_freq", "eval_episodes", "eval_max_ticks", "score_worlds"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GameSpecError(f"{where}: {attr} must be a whole number >= 1, got {value!r}")
        counts = self.envs.values() if isinstance(self.envs, Mapping) else [self.envs]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in counts):
            raise GameSpecError(f"{where}: envs must be a whole number >= 1 (or algo -> number), got {self.envs!r}")
        if not self.title:
            object.__setattr__(self, "title", self.name)

    # -- what the commands ask ----------------------------------------------------------------

    @property
    def policy(self) -> str:
        """The main learning policy (the first)."""
        return next(iter(self.policies))

    @property
    def learning_policies(self) -> tuple[str, ...]:
        """The learning policies' names, main policy first."""
        return tuple(self.policies)

    @property
    def multi(self) -> bool:
        """Whether the game trains several policies at once (one run per policy)."""
        return len(self.policies) > 1

    @property
    def on_end(self) -> str:
        """What the plugin does with an ended agent: ``"reset"`` (the reset hook) or ``"delete"`` (no hook)."""
        return "reset" if self.reset is not None else "delete"

    def spaces(self, policy: str) -> tuple[Any, Any]:
        """``(observation_space, action_space)`` of a learning policy."""
        if policy not in self.policies:
            raise ValueError(f"game {self.name!r} has no learning policy {policy!r}; "
                             f"its policies: {', '.join(self.policies)}")
        obs, act = self.policies[policy]
        return obs, act

    def budget(self, policy: str) -> int:
        """The default step budget of a learning policy (decisions of its agents)."""
        return self.policy_steps.get(policy, self.default_steps)

    def envs_for(self, algo: str | None = None) -> int:
        """The default number of agent entities for ``algo``."""
        if isinstance(self.envs, Mapping):
            return self.envs.get(algo or self.default_algo, next(iter(self.envs.values()), 1))
        return self.envs

    def make_world(self, n: int, seed: int | None, human: bool = False) -> Any:
        """Build the game for ``n`` agents in the current esper world (``human``: with the person's agent,
        for games that declare ``human``).

        Args:
            n: the number of agents.
            seed: agent i is seeded ``seed + i``.
            human: add the person's agent.
        """
        return self.build(n, seed, human=self.human) if human else self.build(n, seed)

    @property
    def eval_factory(self) -> Callable[[int, "int | None"], Any]:
        """``factory(episodes, seed)`` for evaluations."""
        return self.factory or self.build

    def extra_controllers(self) -> dict[str, Any]:
        """Fresh non-learning controllers the world needs beside the learning policies."""
        return dict(self.controllers()) if self.controllers else {}

    def install(self, policies: Mapping[str, Any], *, evaluation: Any = None, learning: bool = True) -> Any:
        """Install the plugin in the current world: ``policies`` plus the game's controllers, ``on_end`` as declared.

        Args:
            policies: policy name -> session, frozen policy or controller.
            evaluation: periodic greedy evaluation (``Evaluation``).
            learning: False for inference only.
        """
        from .ecs.plugin import Plugin

        return Plugin({**self.extra_controllers(), **policies}, self.reset, evaluation=evaluation, learning=learning,
                      on_end=self.on_end).install()

    def draw_world(self) -> Callable[..., None]:
        """The drawing function ``draw(surface, human_entity)`` (imported now if given as a string)."""
        if self.draw is None:
            return _plain_draw
        if callable(self.draw):
            return self.draw
        module, _, attr = self.draw.partition(":")
        return getattr(importlib.import_module(module), attr)

    def preset(self, algo: str, seed: int, steps: int, policy: str | None = None) -> Any:
        """The agent config for ``policy`` (default: the main one): the game's preset, else the defaults.

        Args:
            algo: ``"dqn"`` or ``"ppo"``.
            seed: the agent's seed.
            steps: the training budget.
            policy: the learning policy (default: the main one).
        """
        policy = policy or self.policy
        make = self.presets.get(f"{policy}/{algo}") or self.presets.get(algo)
        if make is not None:
            return make(seed, steps)
        if self.presets:  # tuned for some algorithms only: no silent untuned run
            whose = f" for policy {policy!r}" if self.multi else ""
            raise ValueError(f"game {self.name!r} has no {algo!r} preset{whose}")
        from .algorithms import DqnConfig, PpoConfig

        if algo == "dqn":  # exploration scaled to a short budget: epsilon decays over a third of it
            return DqnConfig(seed=seed, epsilon_decay_steps=max(1, min(10_000, steps // 3)),
                             learning_starts=min(1_000, steps // 10))
        return PpoConfig(seed=seed)


def _plain_draw(surface: Any, human: int | None = None) -> None:
    """A game without a ``draw``: an empty window (the HUD still shows its episodes)."""
    surface.fill((245, 247, 250))


def preset_from(name: str) -> Callable[[int, int], Any]:
    """``preset(seed, total_steps)`` from the tuned settings in ``ecs_rl.algorithms.presets`` (imported on use).

    Args:
        name: a function name in ``ecs_rl.algorithms.presets`` (``"cartpole_dqn"``).
    """
    def make(seed: int, total_steps: int) -> Any:
        from .algorithms import presets

        fn = getattr(presets, name)
        return fn(seed, total_steps=total_steps) if "total_steps" in inspect.signature(fn).parameters else fn(seed)

    make.__name__ = name
    return make


# -- finding a game from a spec string ----------------------------------------------------------

def registered_games() -> dict[str, str]:
    """Game names and their specs: the built-ins, then installed packages' ``ecs_rl.games`` entry points."""
    found = dict(BUILTIN_GAMES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _is_file_spec(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def canonical_spec(spec: str) -> str:
    """The spec as a run records it: a registered name as is, a file as an absolute path with its attribute,
    a module as ``module:attribute`` (``make_game`` when none is named)."""
    if not isinstance(spec, str) or not spec.strip():
        raise GameSpecError(f"a game spec must be a name, path/to/game.py:make_game or module:make_game, got {spec!r}")
    if spec in registered_games():
        return spec
    target, sep, attr = spec.rpartition(":")
    if not sep:
        target, attr = spec, ""
    if _is_file_spec(target):
        target = str(Path(target).expanduser().resolve())
    elif ":" not in spec:  # a bare word that is no registered game
        raise GameSpecError(f"unknown game {spec!r}; known games: {', '.join(registered_games())} "
                            f"(or path/to/game.py:make_game, or module:make_game)")
    return f"{target}:{attr or 'make_game'}"


def load_game(spec: str) -> Game:
    """The game a spec names (see ``canonical_spec``): imports its module and calls ``make_game()``.

    Every failure is a ``GameSpecError`` of one line: the file or module, the attribute, the error.

    Args:
        spec: a registered name (``"cartpole"``, ``"foragers"``, ``"hunt"``, or one an installed package
            registers under the ``ecs_rl.games`` entry points), ``path/to/game.py`` or
            ``path/to/game.py:make_game`` (imported as a script: its directory first on ``sys.path``), or
            ``package.module:make_game``.

    Returns:
        The ``Game`` the spec's function returns, with ``spec`` set to the canonical spec a run records.
    """
    canonical = canonical_spec(spec)
    registered = registered_games()
    target_spec = registered.get(canonical, canonical)
    target, _, attr = target_spec.rpartition(":")
    if not target:
        raise GameSpecError(f"game {spec!r}: no module or file before ':'")
    if _is_file_spec(target):
        module = _import_file(spec, Path(target))
        where = target
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and target.startswith(exc.name):
                raise GameSpecError(f"game {spec!r}: no module named {exc.name!r}") from None
            raise GameSpecError(f"game {spec!r}: importing {target} failed: {_one_line(exc)}") from None
        except Exception as exc:  # user code: anything may go wrong in it
            raise GameSpecError(f"game {spec!r}: importing {target} failed: {_one_line(exc)}") from None
        where = target
    try:
        made = getattr(module, attr)
    except AttributeError:
        raise GameSpecError(f"game {spec!r}: {where} has no attribute {attr!r}") from None
    if not isinstance(made, Game):
        if not callable(made):
            raise GameSpecError(f"game {spec!r}: {where}:{attr} is neither a Game nor a function returning one")
        try:
            made = made()
        except GameSpecError as exc:
            raise GameSpecError(f"game {spec!r}: {exc}") from None
        except Exception as exc:
            raise GameSpecError(f"game {spec!r}: calling {attr}() failed: {_one_line(exc)}") from None
        if not isinstance(made, Game):
            raise GameSpecError(f"game {spec!r}: {attr}() returned {type(made).__name__}, not an ecs_rl.Game")
    return replace(made, spec=canonical)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _import_file(spec: str, path: Path) -> Any:
    """Import a game file as a module (its directory goes first on ``sys.path``, as when run as a script)."""
    if not path.is_file():
        raise GameSpecError(f"game {spec!r}: no file {path}")
    name = f"ecs_rl_game_{path.stem}_{abs(hash(str(path))):x}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise GameSpecError(f"game {spec!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        module_spec.loader.exec_module(module)
    except KeyboardInterrupt:
        del sys.modules[name]
        raise
    except BaseException as exc:  # user code: anything (SystemExit included) becomes one line
        del sys.modules[name]
        raise GameSpecError(f"game {spec!r}: importing {path} failed: {_one_line(exc)}") from None
    return module


def get_game(name: str) -> Game:
    """The game a spec names (kept for callers of the old name table)."""
    return load_game(name)


__all__ = ["BUILTIN_GAMES", "ENTRY_POINT_GROUP", "Game", "GameSpecError", "canonical_spec", "get_game", "load_game",
           "preset_from", "registered_games"]
