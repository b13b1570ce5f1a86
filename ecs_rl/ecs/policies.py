"""How the plugin talks to what controls an agent: a learning session, a frozen policy, or a controller."""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np

from ..core.session import TrainingSession
from ..core.stats import StatsTracker
from ..core.types import ActMode


class ComponentError(ValueError):
    """A component holds a value the plugin cannot use; the message names entity, component and value."""


class ObservationCastWarning(UserWarning):
    """Observations of another dtype than the policy's observation space (float64 or int64 for a float32 space)
    are cast to the space's dtype, as intended (the networks compute in float32); said once per policy."""


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
        self.gamma = float(getattr(inner, "gamma", 1.0))  # discount within a decision period
        space = self.action_space
        self.n_actions = int(space.n) if isinstance(space, gym.spaces.Discrete) else None  # None: masks refused
        self.takes_masks = _takes_masks(inner)
        obs_space = getattr(inner, "observation_space", None)
        self.obs_shape: tuple[int, ...] | None = tuple(obs_space.shape) if obs_space is not None else None
        self.obs_dtype = np.dtype(obs_space.dtype) if obs_space is not None and obs_space.dtype is not None else None
        obs_dim = getattr(inner, "obs_dim", None)  # a policy that knows only its input size (exported, greedy)
        self.obs_size: int | None = obs_dim if isinstance(obs_dim, int) and self.obs_shape is None else None
        self._accepted_dtypes: set[np.dtype] = set()
        self._cast_warned = False
        self.stats = StatsTracker.default()  # episodes of non-learning policies (HUDs, reports)
        self.next_eval = 0

    @property
    def learns(self) -> bool:
        return self.session is not None

    def act_batch(self, obs: np.ndarray, mode: ActMode, ids: Sequence[int],
                  masks: np.ndarray | None = None) -> np.ndarray:
        if masks is None:
            return self.policy.act_batch(obs, mode, ids)
        return self.policy.act_batch(obs, mode, ids, masks)

    def stack_masks(self, masks: Mapping[int, Any], entities: list[int], what: str = "",
                    terminal: Sequence[bool] | None = None) -> np.ndarray | None:
        """The batch's ``ActionMask`` values as one ``(n, n_actions)`` bool array (entities without one: all
        legal), or None when none of them has one. Wrong types and shapes, and a mask with no legal action
        (allowed only for a ``terminal`` next state), are refused naming the entity."""
        rows = [masks.get(e) for e in entities]
        present = [(e, m) for e, m in zip(entities, rows) if m is not None]
        if not present:
            return None
        n = self.n_actions
        entity = present[0][0]
        if not self.takes_masks:
            raise ComponentError(f"entity {entity}: has an ActionMask but policy {self.name!r} "
                                 f"({type(self.policy).__name__}) takes no masks (its act_batch has no masks argument)")
        if n is None:
            raise ComponentError(f"entity {entity}: has an ActionMask but policy {self.name!r} has "
                                 + (f"action space {self.action_space}; action masks need a Discrete action space"
                                    if self.action_space is not None else
                                    "no action_space attribute; a masked policy must say its Discrete action space"))
        for e, m in present:
            if type(m) is not np.ndarray or m.dtype != np.bool_ or m.shape != (n,):
                raise ComponentError(f"entity {e}: ActionMask{what} must be a bool numpy array of shape ({n},) "
                                     f"for policy {self.name!r}, got {m!r}")
        legal = np.ones(n, dtype=bool)
        batch = np.array([legal if m is None else m for m in rows])
        none_legal = ~batch.any(axis=1)
        if none_legal.any():
            for row in np.flatnonzero(none_legal):
                if terminal is None or not terminal[row]:
                    raise ComponentError(f"entity {entities[row]}: ActionMask{what} allows no action (all False); "
                                         "an agent that decides needs at least one legal action")
        return batch

    def stack(self, values: list[Any], entities: list[int], what: str) -> np.ndarray:
        """Stack observations into a new batch, refusing wrong types, shapes, dtypes and non-finite values."""
        shape, accepted = self.obs_shape, self._accepted_dtypes
        for entity, value in zip(entities, values):
            if type(value) is not np.ndarray or value.shape != shape or value.dtype not in accepted:
                self._check(entity, value, what)
        batch = np.array(values, dtype=self.obs_dtype)
        total = batch.sum()
        if not math.isfinite(total):  # one reduction for the common case; find the culprit only on failure
            bad = ~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ComponentError(f"entity {entities[row]}: Observation{what} is not finite: {values[row]!r}")
        return batch

    def _check(self, entity: int, value: Any, what: str) -> None:
        """The slow path: name what is wrong, or learn the shape / dtype on first sight."""
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise ComponentError(f"entity {entity}: Observation{what} must be a numeric numpy array for policy "
                                 f"{self.name!r}, got {value!r}")
        if self.obs_shape is None:
            if self.obs_size is not None and value.size != self.obs_size:
                raise ComponentError(f"entity {entity}: Observation{what} has shape {value.shape} ({value.size} "
                                     f"numbers), policy {self.name!r} reads {self.obs_size}")
            self.obs_shape = value.shape
        elif value.shape != self.obs_shape:
            raise ComponentError(f"entity {entity}: Observation{what} has shape {value.shape}, policy {self.name!r} "
                                 f"expects {self.obs_shape}")
        if self.obs_dtype is not None and not np.can_cast(value.dtype, self.obs_dtype, "same_kind"):
            raise ComponentError(f"entity {entity}: Observation{what} has dtype {value.dtype}, policy {self.name!r} "
                                 f"expects {self.obs_dtype}")
        if self.obs_dtype is not None and value.dtype != self.obs_dtype and not self._cast_warned:
            self._cast_warned = True
            warnings.warn(f"policy {self.name!r}: entity {entity}'s Observation has dtype {value.dtype}; observations "
                          f"are cast to {self.obs_dtype}, the dtype of the policy's observation space (write "
                          f"{self.obs_dtype} observations to skip the cast; said once per policy)",
                          ObservationCastWarning, stacklevel=2)
        self._accepted_dtypes.add(value.dtype)

    def check_action(self, entity: int, value: Any) -> None:
        if isinstance(self.action_space, gym.spaces.Discrete) and isinstance(value, (bool, np.bool_)):
            raise ComponentError(f"entity {entity}: Action {value!r} from controller {self.name!r} is a bool, "
                                 f"not an integer action of {self.action_space}")
        if self.action_space is not None and not self.action_space.contains(_as_space_value(value, self.action_space)):
            raise ComponentError(
                f"entity {entity}: Action {value!r} from controller {self.name!r} is outside the action space "
                f"{self.action_space}")


def _takes_masks(policy: Any) -> bool:
    """Whether ``policy.act_batch`` accepts a ``masks`` argument."""
    try:
        return "masks" in inspect.signature(policy.act_batch).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def _as_space_value(value: Any, space: gym.Space) -> Any:
    if isinstance(space, gym.spaces.Discrete) and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return np.int64(value)
    if isinstance(space, gym.spaces.Box):
        return np.asarray(value, dtype=space.dtype) if np.asarray(value).dtype.kind in "fi" else value
    return value
