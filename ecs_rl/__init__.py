"""ecs-rl: an esper ECS game world drives reinforcement-learning training."""

from importlib.metadata import PackageNotFoundError, version as _version

from .core import *  # noqa: F401,F403  (the core API is the package's front door)
from .core import __all__ as _core_all
from . import _registration  # noqa: F401  ("ecs_rl/CartPole-v1" for gymnasium.make)

try:
    __version__ = _version("ecs-rl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", *_core_all]
