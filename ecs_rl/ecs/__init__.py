"""The esper plugin: components, events, processors, and ``install`` (one call puts training in a world)."""

from .components import (
    AGENT_COMPONENTS, Action, ActionMask, Agent, Done, EpisodeInfo, EpisodeTracker, Observation, ResetRequest, Reward,
    agent_components,
)
from .controllers import HumanController, ScriptedController
from .evaluation import HELD_OUT_SEED, EvalResult, Evaluation
from .events import EPISODE_END, MATCH_RESULT, TRAINING_DONE, EpisodeEnd, MatchResult
from .lifecycle import WorldError, despawn
from .plugin import Plugin, PolicyProgress, Priorities, install, run_episodes
from .policies import ComponentError, ObservationCastWarning
from .runner import FixedStep, step_world

__all__ = [
    "AGENT_COMPONENTS", "Action", "ActionMask", "Agent", "ComponentError", "Done", "EPISODE_END", "EpisodeEnd",
    "EpisodeInfo", "EpisodeTracker", "EvalResult", "Evaluation", "FixedStep", "HELD_OUT_SEED", "HumanController",
    "MATCH_RESULT", "MatchResult", "Observation", "ObservationCastWarning", "Plugin", "PolicyProgress", "Priorities",
    "ResetRequest", "Reward",
    "ScriptedController", "TRAINING_DONE", "WorldError", "agent_components", "despawn", "install", "run_episodes",
    "step_world",
]
