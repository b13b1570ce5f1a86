"""The loop-agnostic training core: plain Python and numpy (no esper, torch or pygame)."""

from .agent import LearningAgent, RandomAgent
from .run import RunError, TrainingRun
from .session import TrainingSession
from .stats import EvalReport, Last, Max, Mean, Min, RollingMean, StatsTracker, Std, extra
from .tensorboard import TensorBoardLogger
from .types import ActMode, EpisodeRecord, EpisodeStatus, Experience, Transitions

__all__ = [
    "ActMode", "EpisodeRecord", "EpisodeStatus", "EvalReport", "Experience", "Last", "LearningAgent",
    "Max", "Mean", "Min", "RandomAgent", "RollingMean", "RunError", "StatsTracker", "Std",
    "TensorBoardLogger", "TrainingRun", "TrainingSession", "Transitions", "extra",
]
