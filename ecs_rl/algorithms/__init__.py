"""torch agents implementing the LearningAgent protocol (the only package that imports torch)."""

from .common import CheckpointError
from .dqn import DqnAgent, DqnConfig
from .policy import GreedyPolicy
from .ppo import PpoAgent, PpoConfig
from . import presets

__all__ = ["CheckpointError", "DqnAgent", "DqnConfig", "GreedyPolicy", "PpoAgent", "PpoConfig", "presets"]
