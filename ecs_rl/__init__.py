"""ecs-rl: an esper ECS game world drives reinforcement-learning training."""

from importlib.metadata import PackageNotFoundError, version as _version
from typing import Any

from .core import *  # noqa: F401,F403  (the core API is the package's front door)
from .core import __all__ as _core_all
from . import _registration  # noqa: F401  ("ecs_rl/CartPole-v1" for gymnasium.make)
from .games import Game, GameSpecError, load_game

try:
    __version__ = _version("ecs-rl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"


def evaluate(world: Any, policy: Any, episodes: int = 10, *, seed: int = 0, max_ticks: int | None = None,
             name: str | None = None, others: Any = None, action_space: Any = None, drive: Any = None) -> Any:
    """Score ``policy`` on ``world`` (a ``Game`` or a factory) over ``episodes`` episodes from ``seed`` on,
    at most ``max_ticks`` ticks (unfinished episodes counted); returns the ``EvalResult``.
    ``evaluate(game, "random", ...)`` is the random baseline. See ``ecs_rl.scoring.evaluate``
    (imported on first use: ``import ecs_rl`` stays free of esper and torch).

    Args:
        world: a ``Game``, or a factory ``factory(n, seed)``.
        policy: any policy, or ``"random"``.
        episodes: the number of episodes.
        seed: episode i starts from ``seed + i``.
        max_ticks: the tick limit (default: the game's ``eval_max_ticks``).
        name: with a factory, the policy name its agents carry.
        others: policies for the game's other agents.
        action_space: the space ``"random"`` samples (default: the game's).
        drive: ``drive(stop)`` steps the world itself (a window); default headless.
    """
    from .scoring import evaluate as _evaluate

    return _evaluate(world, policy, episodes, seed=seed, max_ticks=max_ticks, name=name, others=others,
                     action_space=action_space, drive=drive)


def __getattr__(name: str) -> Any:
    if name == "EvalResult":  # lives with the esper plugin; imported on first use
        from .ecs.evaluation import EvalResult

        return EvalResult
    raise AttributeError(f"module 'ecs_rl' has no attribute {name!r}")


__all__ = ["__version__", "EvalResult", "Game", "GameSpecError", "evaluate", "load_game", *_core_all]
