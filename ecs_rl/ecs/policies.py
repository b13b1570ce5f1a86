"""How the plugin talks to what controls an agent: a learning session, a frozen policy, or a controller."""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from ..core.session import TrainingSession
from ..core.stats import StatsTracker
from ..core.types import ActMode


class ComponentError(ValueError):
    """A component holds a value the plugin cannot use; the message names entity, component and value."""


class PolicyEntry:
    """One registered policy with the spaces used to check what flows in and out of it."""

    def __init__(self, name: str, policy: Any) -> None:
        self.name = name
        self.policy = policy
        self.session = policy if isinstance(policy, TrainingSession) else None
        inner = policy.agent if self.session is not None else policy
        self.per_entity = callable(getattr(policy, "decide", None))
        if not self.per_entity and not callable(getattr(inner, "act_batch", None)):
            raise TypeError(f"policy {name!r} must be a TrainingSession, have act_batch(), or have decide()")
        self.action_space: gym.Space | None = getattr(inner, "action_space", None)
        obs_space = getattr(inner, "observation_space", None)
        self.obs_shape: tuple[int, ...] | None = tuple(obs_space.shape) if obs_space is not None else None
        self.obs_dtype = np.dtype(obs_space.dtype) if obs_space is not None and obs_space.dtype is not None else None
        self.stats = StatsTracker.default()  # episodes of non-learning policies (HUDs, reports)
        self.next_eval = 0

    @property
    def learns(self) -> bool:
        return self.session is not None

    def act_batch(self, obs: np.ndarray, mode: ActMode, ids: Sequence[int]) -> np.ndarray:
        return self.policy.act_batch(obs, mode, ids)

    def stack(self, values: list[Any], entities: list[int], what: str) -> np.ndarray:
        """Stack observations into a batch, refusing wrong shapes, dtypes and non-finite values by entity."""
        shape = self.obs_shape
        for entity, value in zip(entities, values):
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
                raise ComponentError(
                    f"entity {entity}: Observation{what} must be a numeric numpy array for policy {self.name!r}, "
                    f"got {value!r}")
            if shape is None:
                shape = self.obs_shape = value.shape
            elif value.shape != shape:
                raise ComponentError(
                    f"entity {entity}: Observation{what} has shape {value.shape}, policy {self.name!r} expects {shape}")
            if self.obs_dtype is not None and not np.can_cast(value.dtype, self.obs_dtype, "same_kind"):
                raise ComponentError(
                    f"entity {entity}: Observation{what} has dtype {value.dtype}, policy {self.name!r} expects "
                    f"{self.obs_dtype}")
        batch = np.stack(values)
        if batch.dtype.kind == "f" and not np.isfinite(batch).all():
            row = int(np.flatnonzero(~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1))[0])
            raise ComponentError(f"entity {entities[row]}: Observation{what} is not finite: {values[row]!r}")
        return batch

    def check_action(self, entity: int, value: Any) -> None:
        if self.action_space is not None and not self.action_space.contains(_as_space_value(value, self.action_space)):
            raise ComponentError(
                f"entity {entity}: Action {value!r} from controller {self.name!r} is outside the action space "
                f"{self.action_space}")


def _as_space_value(value: Any, space: gym.Space) -> Any:
    if isinstance(space, gym.spaces.Discrete) and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return np.int64(value)
    if isinstance(space, gym.spaces.Box):
        return np.asarray(value, dtype=space.dtype) if np.asarray(value).dtype.kind in "fi" else value
    return value
