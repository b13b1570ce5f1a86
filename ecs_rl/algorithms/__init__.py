"""torch agents implementing the LearningAgent protocol (the only package that imports torch)."""

from .common import CheckpointError, TorchSettings, configure_torch, torch_settings
from .dqn import DqnAgent, DqnConfig
from .policy import GreedyPolicy
from .ppo import PpoAgent, PpoConfig
from . import presets

__all__ = ["CheckpointError", "TorchSettings", "configure_torch", "torch_settings", "DqnAgent", "DqnConfig", "GreedyPolicy", "PpoAgent", "PpoConfig", "presets"]
