"""The esper plugin: components, events, processors, and ``install`` (one call puts training in a world)."""

from .components import (
    AGENT_COMPONENTS, Action, Agent, Done, EpisodeInfo, EpisodeTracker, Observation, ResetRequest, Reward,
    agent_components,
)
from .controllers import HumanController, ScriptedController
from .events import EPISODE_END, TRAINING_DONE, EpisodeEnd
from .plugin import Evaluation, EvalResult, Plugin, Priorities, install
from .policies import ComponentError
from .runner import FixedStep, run

__all__ = [
    "AGENT_COMPONENTS", "Action", "Agent", "ComponentError", "Done", "EPISODE_END", "EpisodeEnd", "EpisodeInfo",
    "EpisodeTracker", "EvalResult", "Evaluation", "FixedStep", "HumanController", "Observation", "Plugin",
    "Priorities", "ResetRequest", "Reward", "ScriptedController", "TRAINING_DONE", "agent_components", "install", "run",
]
