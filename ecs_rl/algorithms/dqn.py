"""Deep Q-learning (DQN) with a numpy replay ring, epsilon-greedy exploration and a target network.

The update, for a minibatch of transitions (s, a, r, s', terminated) sampled from the replay buffer:

    y      = r + gamma * (1 - terminated) * Q_target(s', a*)       a* = argmax_a Q_target(s', a)
                                                                   (double DQN: argmax_a Q(s', a))
    loss   = huber(Q(s, a) - y)

A *truncated* transition (time limit, entity removed) keeps ``terminated = 0``: its target
bootstraps from the true final observation s'. A *terminated* one does not. A transition spanning
k ticks (a decision period; its reward already discounted within the span) bootstraps with gamma^k.

Action masks (Discrete only): a masked action is never chosen, greedy or exploring (epsilon draws a
uniformly random *legal* action), and the max over a' runs over the legal actions of s' only, so the
replay keeps each transition's next mask (a terminal s' needs none: it is stored all-legal).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ..core.types import ActMode, Experience, Transitions

if TYPE_CHECKING:
    from .policy import GreedyPolicy
from .common import (
    CheckpointError, FlatParameters, action_space_to_dict, box_dim, check_shapes, legal_masks, load_checkpoint,
    FlatAdam, mlp, numpy_rng_state, sample_legal, save_checkpoint, seeded_module, set_numpy_rng_state,
)
from .mlp_backward import q_regression_backward


@dataclass
class DqnConfig:
    """DQN hyper-parameters. Defaults follow the reference design:

    gamma 0.99, learning_rate 1e-3, batch_size 64, buffer_size 10 000, learning_starts 1 000 (env
    steps before the first update), train_freq 1 and gradient_steps 1 (one update per env step),
    target_update_interval 200 env steps with tau 1.0 (hard copy; tau < 1 is Polyak averaging),
    hidden (64, 64), epsilon 1.0 -> 0.01 linearly over 10 000 env steps, Huber loss, gradient
    norm clipped at 10, double DQN off, seed 0, replay buffer not saved in checkpoints. Building the
    agent leaves torch's process-wide settings alone: call ``ecs_rl.algorithms.configure_torch()`` once
    (one thread, flush-denormal) for the speed the benchmarks measure.
    """

    gamma: float = 0.99
    learning_rate: float = 1e-3
    batch_size: int = 64
    buffer_size: int = 10_000
    learning_starts: int = 1_000
    train_freq: int = 1
    gradient_steps: int = 1
    target_update_interval: int = 200
    tau: float = 1.0
    hidden: tuple[int, ...] = (64, 64)
    epsilon_start: float = 1.0
    epsilon_end: float = 0.01
    epsilon_decay_steps: int = 10_000
    double_dqn: bool = False
    huber: bool = True
    max_grad_norm: float | None = 10.0
    seed: int = 0
    save_replay: bool = False

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        for name in ("batch_size", "buffer_size", "train_freq", "gradient_steps", "target_update_interval"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DqnConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.learning_starts < 0 or self.epsilon_decay_steps < 0:
            raise ValueError("DqnConfig.learning_starts and epsilon_decay_steps must be >= 0")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"DqnConfig.tau must be in (0, 1], got {self.tau!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"DqnConfig.gamma must be in [0, 1], got {self.gamma!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0.0 <= self.learning_rate < math.inf):
            raise ValueError(f"DqnConfig.learning_rate must be a finite number >= 0, got {self.learning_rate!r}")
        for name in ("epsilon_start", "epsilon_end"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"DqnConfig.{name} must be in [0, 1], got {value!r}")


class ReplayBuffer:
    """Preallocated ring of transitions, one float32 row each:
    ``[obs, next_obs, action, reward, terminated, discount]`` (discount = gamma ** ticks).

    One row per transition makes a minibatch one fancy-indexing operation; sampling draws indices
    from the buffer's own RNG. The next states' action masks live in a bool array beside the rows,
    made on the first masked transition (a game without masks never pays for it).
    """

    def __init__(self, capacity: int, obs_dim: int, seed: int, gamma: float = 0.99, n_actions: int = 0) -> None:
        self.capacity = capacity
        self.n_actions = n_actions
        self.next_masks: np.ndarray | None = None
        self.gamma = gamma  # the discount of one-tick rows read from checkpoints without the column
        self.obs_dim = obs_dim
        self.rows = np.zeros((capacity, 2 * obs_dim + 4), dtype=np.float32)
        self.pos = 0
        self.size = 0
        self.rng = np.random.default_rng(seed)

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, terminated: bool,
            discount: float, next_mask: np.ndarray | None = None) -> None:
        d, row = self.obs_dim, self.rows[self.pos]
        row[:d] = obs
        row[d:2 * d] = next_obs
        row[2 * d:] = (action, reward, terminated, discount)
        if next_mask is not None or self.next_masks is not None:
            if self.next_masks is None:
                self.next_masks = np.ones((self.capacity, self.n_actions), dtype=bool)
            self.next_masks[self.pos] = True if next_mask is None or terminated else next_mask
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_many(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                 terminated: np.ndarray, discounts: np.ndarray, next_masks: np.ndarray | None = None) -> None:
        """``add`` for ``len(obs)`` transitions in order (at most ``capacity``): the same rows, one write."""
        n, d = len(obs), self.obs_dim
        index = (self.pos + np.arange(n)) % self.capacity
        rows = np.empty((n, self.rows.shape[1]), dtype=np.float32)
        rows[:, :d], rows[:, d:2 * d] = obs, next_obs
        rows[:, 2 * d], rows[:, 2 * d + 1], rows[:, 2 * d + 2], rows[:, 2 * d + 3] = actions, rewards, terminated, discounts
        self.rows[index] = rows
        if next_masks is not None or self.next_masks is not None:
            if self.next_masks is None:
                self.next_masks = np.ones((self.capacity, self.n_actions), dtype=bool)
            masks = np.ones((n, self.n_actions), dtype=bool) if next_masks is None else next_masks.copy()
            masks[np.asarray(terminated, dtype=bool)] = True
            self.next_masks[index] = masks
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    @property
    def terminated(self) -> np.ndarray:
        return self.rows[: self.size, 2 * self.obs_dim + 2]

    @property
    def next_obs(self) -> np.ndarray:
        return self.rows[: self.size, self.obs_dim:2 * self.obs_dim]

    def sample(self, n: int, with_masks: bool = False) -> tuple[torch.Tensor, ...]:
        """``(obs, actions, rewards, next_obs, terminated, discounts)`` for ``n`` transitions drawn uniformly;
        ``with_masks`` adds ``next_masks`` (None while no transition had a mask)."""
        d = self.obs_dim
        index = self.rng.integers(0, self.size, size=n)
        batch = torch.from_numpy(np.take(self.rows, index, axis=0))  # the rows[index] copy, 4x faster
        sample = (batch[:, :d], batch[:, 2 * d].long(), batch[:, 2 * d + 1], batch[:, d:2 * d], batch[:, 2 * d + 2],
                  batch[:, 2 * d + 3])
        if not with_masks:
            return sample
        return (*sample, None if self.next_masks is None else torch.from_numpy(self.next_masks[index]))

    def state(self, with_contents: bool) -> dict[str, Any]:
        state: dict[str, Any] = {"rng": numpy_rng_state(self.rng), "pos": self.pos, "size": self.size}
        if with_contents:
            state["rows"] = torch.from_numpy(self.rows[: self.size].copy())
            if self.next_masks is not None:
                state["next_masks"] = torch.from_numpy(self.next_masks[: self.size].copy())
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        set_numpy_rng_state(self.rng, state["rng"])
        rows = state.get("rows")
        self.next_masks = None
        if rows is None:  # saved without contents: start refilling from empty
            self.pos = self.size = 0
            return
        size = int(state["size"])
        rows = rows.numpy()
        if rows.shape[1] == self.rows.shape[1] - 1:  # saved before the discount column: one-tick transitions
            rows = np.concatenate([rows, np.full((len(rows), 1), self.gamma, dtype=np.float32)], axis=1)
        self.rows[:size] = rows
        if state.get("next_masks") is not None:
            self.next_masks = np.ones((self.capacity, self.n_actions), dtype=bool)
            self.next_masks[:size] = state["next_masks"].numpy()
        self.pos, self.size = int(state["pos"]), size


class DqnAgent:
    """DQN over a ``Box`` observation space and a ``Discrete`` action space (a ``LearningAgent``).

    Args:
        observation_space: a ``Box`` of the observations.
        action_space: a ``Discrete`` of the actions.
        config: the hyper-parameters (default: ``DqnConfig()``; ``presets`` has tuned ones).
    """

    algorithm = "dqn"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: DqnConfig | None = None) -> None:
        self.config = config = config or DqnConfig()
        if not isinstance(action_space, gym.spaces.Discrete):
            raise TypeError(f"DQN needs a Discrete action space, got {action_space!r}")
        self.observation_space, self.action_space = observation_space, action_space
        self.obs_dim = box_dim(observation_space, "DQN observation_space")
        self.n_actions = int(action_space.n)
        self._action_start = int(action_space.start)
        sizes = (self.obs_dim, *config.hidden, self.n_actions)
        self.q_net = seeded_module(config.seed, lambda: mlp(sizes, nn.ReLU))
        self.target_net = seeded_module(config.seed, lambda: mlp(sizes, nn.ReLU))
        self.target_net.load_state_dict(self.q_net.state_dict())
        self.target_net.requires_grad_(False)
        self.q_params = FlatParameters(self.q_net)
        self.target_params = FlatParameters(self.target_net).param.data
        self.optimizer = FlatAdam(self.q_params.param, config.learning_rate)
        seeds = np.random.SeedSequence(config.seed).spawn(2)
        self.explore_rng = np.random.default_rng(seeds[0])
        self.replay = ReplayBuffer(config.buffer_size, self.obs_dim, seeds[1], config.gamma, self.n_actions)
        self._steps = 0
        self._updates = 0
        self._episode_losses: list[float] = []
        self._last_loss = math.nan

    # -- acting -------------------------------------------------------------------------------

    @property
    def total_steps(self) -> int:
        """Transitions observed so far."""
        return self._steps

    @property
    def gamma(self) -> float:
        """The discount factor (``config.gamma``)."""
        return self.config.gamma

    @property
    def epsilon(self) -> float:
        """Linear decay from ``epsilon_start`` to ``epsilon_end`` over ``epsilon_decay_steps`` env steps."""
        c = self.config
        if c.epsilon_decay_steps == 0:
            return c.epsilon_end
        fraction = min(1.0, self._steps / c.epsilon_decay_steps)
        return c.epsilon_start + fraction * (c.epsilon_end - c.epsilon_start)

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLORE, agent_id: int = 0, mask: np.ndarray | None = None) -> int:
        """Epsilon-greedy in explore mode, greedy in exploit mode; ``mask`` (bool, True = legal) limits both.

        Args:
            obs: one observation.
            mode: ``ActMode.EXPLORE`` (epsilon-greedy) or ``ActMode.EXPLOIT`` (greedy).
            agent_id: accepted for the protocol (DQN keeps no per-agent state).
            mask: optional bool array of legal actions.
        """
        if mask is not None:
            masks = np.asarray(mask).reshape(1, -1)
            return int(self.act_batch(np.asarray(obs, dtype=np.float32).reshape(1, self.obs_dim), mode, [agent_id],
                                      masks)[0])
        if mode is ActMode.EXPLORE and self.explore_rng.random() < self.epsilon:
            return int(self.explore_rng.integers(self.n_actions)) + self._action_start
        with torch.inference_mode():
            q = self.q_net(torch.as_tensor(obs, dtype=torch.float32).reshape(1, self.obs_dim))
        return int(q.argmax()) + self._action_start

    def act_batch(
        self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLORE, agent_ids: Sequence[int] | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """One forward pass for the whole batch; in explore mode each row explores with probability epsilon.

        ``masks``: an ``(n, n_actions)`` bool array, True = legal; masked actions are never returned.

        Args:
            obs_batch: observations stacked on the first axis.
            mode: ``ActMode.EXPLORE`` (epsilon-greedy) or ``ActMode.EXPLOIT`` (greedy).
            agent_ids: accepted for the protocol (DQN keeps no per-agent state).
            masks: optional ``(n, n_actions)`` bool array of legal actions.
        """
        epsilon = self.epsilon if mode is ActMode.EXPLORE else None
        return self.epsilon_greedy(obs_batch, epsilon, self.explore_rng, masks)

    def epsilon_greedy(self, obs_batch: np.ndarray, epsilon: float | None, rng: np.random.Generator,
                       masks: np.ndarray | None = None) -> np.ndarray:
        """``act_batch``'s rule with a given ``epsilon`` (None: greedy, nothing drawn) and generator: each row
        explores with probability epsilon (a legal action uniformly), the others take the argmax of the legal
        Q-values. Acting copies in other processes use it with the learner's epsilon.

        Args:
            obs_batch: observations stacked on the first axis.
            epsilon: the exploration probability, or None for greedy.
            rng: the generator that draws exploration.
            masks: optional ``(n, n_actions)`` bool array of legal actions.
        """
        obs_batch = np.asarray(obs_batch, dtype=np.float32).reshape(-1, self.obs_dim)
        n = len(obs_batch)
        if masks is not None:
            masks = legal_masks(masks, n, self.action_space)
        n_explore = 0
        if epsilon is not None:
            explore = rng.random(n) < epsilon
            if masks is None:
                random_actions = rng.integers(self.n_actions, size=n)
            else:
                random_actions = sample_legal(rng, masks)
            n_explore = np.count_nonzero(explore)
            if n_explore == n:  # no row needs the network
                return random_actions + self._action_start
        with torch.inference_mode():
            q = self.q_net(torch.from_numpy(obs_batch))
            if masks is not None:
                q = q.masked_fill(~torch.from_numpy(masks), -torch.inf)
            actions = q.argmax(dim=1).numpy()
        if n_explore:
            actions = np.where(explore, random_actions, actions)
        return actions + self._action_start

    # -- learning -----------------------------------------------------------------------------

    def observe(self, experience: Experience) -> None:
        """Store the transition; every ``train_freq`` steps after ``learning_starts``, do ``gradient_steps`` updates.

        Args:
            experience: the transition (its status says whether to bootstrap; ``ticks`` k discounts by gamma^k).
        """
        c = self.config
        self.replay.add(
            np.asarray(experience.obs, dtype=np.float32).reshape(self.obs_dim),
            int(experience.action) - self._action_start,
            float(experience.reward),
            np.asarray(experience.next_obs, dtype=np.float32).reshape(self.obs_dim),
            experience.terminated,  # truncated transitions bootstrap: stored as not terminated
            c.gamma ** experience.ticks,
            None if experience.next_mask is None else self._next_mask(experience),
        )
        self._steps += 1
        if self._steps > c.learning_starts and self._steps % c.train_freq == 0 and self.replay.size >= c.batch_size:
            self._update_burst(c.gradient_steps)
        if self._steps % c.target_update_interval == 0:
            self._sync_target()

    def observe_batch(self, experiences: Sequence[Experience]) -> None:
        """``observe`` each transition in order: :meth:`observe_transitions` of the same rows.

        Args:
            experiences: the transitions, in the order they happened.
        """
        n = len(experiences)
        masked = [j for j, e in enumerate(experiences) if e.next_mask is not None]
        next_masks = None
        if masked:
            next_masks = np.ones((n, self.n_actions), dtype=bool)
            for j in masked:
                next_masks[j] = self._next_mask(experiences[j])
        self.observe_transitions(Transitions(
            np.asarray([e.obs for e in experiences], dtype=np.float32).reshape(n, self.obs_dim),
            np.fromiter((int(e.action) for e in experiences), dtype=np.int64, count=n),
            np.fromiter((float(e.reward) for e in experiences), dtype=np.float64, count=n),
            np.asarray([e.next_obs for e in experiences], dtype=np.float32).reshape(n, self.obs_dim),
            np.fromiter((1 if e.terminated else 0 for e in experiences), dtype=np.int8, count=n),
            np.fromiter((e.agent_id for e in experiences), dtype=np.int64, count=n),
            np.fromiter((e.ticks for e in experiences), dtype=np.int64, count=n),
            next_masks,
        ))

    def observe_transitions(self, batch: Transitions) -> None:
        """``observe`` every row of ``batch`` in order, in fewer, larger writes: the rows up to the next step
        that updates or syncs the target are stored at once, so updates see exactly the buffer they would
        see one transition at a time (same draws, same weights).

        Args:
            batch: the transitions as arrays, rows in the order they happened.
        """
        c, n = self.config, len(batch)
        obs = np.asarray(batch.obs, dtype=np.float32).reshape(n, self.obs_dim)
        next_obs = np.asarray(batch.next_obs, dtype=np.float32).reshape(n, self.obs_dim)
        actions = np.asarray(batch.actions).astype(np.int64).reshape(n) - self._action_start
        rewards = np.asarray(batch.rewards, dtype=np.float64)
        terminated = np.asarray(batch.status) == 1  # truncated rows bootstrap: stored as not terminated
        ticks = np.asarray(batch.ticks)
        discounts = np.full(n, c.gamma) if (ticks == 1).all() else \
            np.fromiter((c.gamma ** int(k) for k in ticks), dtype=np.float64, count=n)
        next_masks = None if batch.next_masks is None else self._next_masks(batch.next_masks, terminated,
                                                                            batch.agent_ids)
        i = 0
        while i < n:
            # the next step (1-based count) at which observe() would update or sync: the chunk ends there
            k = min(n - i, c.train_freq - self._steps % c.train_freq,
                    c.target_update_interval - self._steps % c.target_update_interval, self.replay.capacity)
            rows = slice(i, i + k)
            self.replay.add_many(obs[rows], actions[rows], rewards[rows], next_obs[rows], terminated[rows],
                                 discounts[rows], None if next_masks is None else next_masks[rows])
            self._steps += k
            i += k
            if self._steps > c.learning_starts and self._steps % c.train_freq == 0 and self.replay.size >= c.batch_size:
                self._update_burst(c.gradient_steps)
            if self._steps % c.target_update_interval == 0:
                self._sync_target()

    def _next_masks(self, masks: Any, terminated: np.ndarray, agent_ids: Any) -> np.ndarray:
        masks = np.asarray(masks)
        if masks.dtype != np.bool_ or masks.shape != (len(terminated), self.n_actions):
            raise ValueError(f"next_masks must be a bool array of shape ({len(terminated)}, {self.n_actions}), "
                             f"got dtype {masks.dtype} shape {masks.shape}")
        empty = ~masks.any(axis=1) & ~terminated
        if empty.any():
            raise ValueError(f"next_mask of agent {int(agent_ids[int(np.flatnonzero(empty)[0])])} allows no action "
                             "at a state that is not terminal")
        return masks

    def _next_mask(self, experience: Experience) -> np.ndarray:
        mask = np.asarray(experience.next_mask)
        if mask.dtype != np.bool_ or mask.shape != (self.n_actions,):
            raise ValueError(f"next_mask of agent {experience.agent_id} must be a bool array of shape "
                             f"({self.n_actions},), got dtype {mask.dtype} shape {mask.shape}")
        if not experience.terminated and not mask.any():
            raise ValueError(f"next_mask of agent {experience.agent_id} allows no action at a state that is not "
                             "terminal")
        return mask

    def _update_burst(self, n_updates: int) -> None:
        """``n_updates`` gradient steps, each on its own minibatch, as one burst.

        Nothing is added to the replay buffer and the target network does not change during a burst
        (it syncs between bursts), so the minibatches' indices are drawn in one call (the same draws
        as one call per minibatch) and the targets of all of them come from one target-network pass.
        Double DQN picks a* with the online network, which changes every step: its targets are
        computed per minibatch.
        """
        c = self.config
        batch = self.replay.sample(c.batch_size * n_updates, with_masks=True)
        obs, actions, rewards, next_obs, terminated, discounts, next_masks = batch
        obs, next_obs, actions = obs.contiguous(), next_obs.contiguous(), actions.unsqueeze(1)
        targets = None if c.double_dqn else self._bootstrap_targets(rewards, next_obs, terminated, discounts,
                                                                      next_masks)
        losses = []
        for start in range(0, len(obs), c.batch_size):
            mb = slice(start, start + c.batch_size)
            target = targets[mb] if targets is not None else \
                self._bootstrap_targets(rewards[mb], next_obs[mb], terminated[mb], discounts[mb],
                                        None if next_masks is None else next_masks[mb])
            losses.append(self._gradient_step(obs[mb], actions[mb], target))
        self._updates += n_updates
        losses = torch.stack(losses).tolist()
        self._last_loss = losses[-1]
        self._episode_losses.extend(losses)

    def _gradient_step(self, obs: torch.Tensor, actions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One Adam step on huber(Q(s, a) - y) (or the squared error); returns the loss.

        The gradient is the one ``loss.backward()`` gives, bit for bit, written out in mlp_backward.py.
        """
        c = self.config
        loss = q_regression_backward(self.q_net, obs, actions, target, huber=c.huber)
        self.q_params.clip_grad_norm(c.max_grad_norm)
        self.optimizer.step()
        return loss

    def _sync_target(self) -> None:
        """theta_target <- tau * theta + (1 - tau) * theta_target (tau = 1: hard copy)."""
        if self.config.tau == 1.0:
            self.target_params.copy_(self.q_params.param.data)
        else:
            self.target_params.lerp_(self.q_params.param.data, self.config.tau)

    def _bootstrap_targets(self, rewards: torch.Tensor, next_obs: torch.Tensor, terminated: torch.Tensor,
                           discounts: torch.Tensor, next_masks: torch.Tensor | None = None) -> torch.Tensor:
        """y = r + gamma^k * (1 - terminated) * Q_target(s', a*), a* by the target net (or the online net:
        double DQN) among the legal actions of s' (``next_masks``; terminal rows are stored all-legal);
        ``discounts`` holds gamma^k per transition (k ticks spanned)."""
        with torch.no_grad():
            next_q_target = self.target_net(next_obs)
            illegal = None if next_masks is None else ~next_masks
            if self.config.double_dqn:
                next_q = self.q_net(next_obs)
                if illegal is not None:
                    next_q = next_q.masked_fill(illegal, -torch.inf)
                best_next = next_q.argmax(dim=1, keepdim=True)
                next_value = next_q_target.gather(1, best_next).squeeze(1)
            else:
                if illegal is not None:
                    next_q_target = next_q_target.masked_fill(illegal, -torch.inf)
                next_value = next_q_target.max(dim=1).values
            return rewards + discounts * (1.0 - terminated) * next_value

    def td_targets(self, rewards, next_obs, terminated, ticks=None, next_masks=None) -> torch.Tensor:
        """The targets ``_update_burst`` trains towards, for given transitions (for inspection and tests).

        Args:
            rewards: the transitions' rewards (a tensor).
            next_obs: their next observations.
            terminated: whether each ended for good (no bootstrapping).
            ticks: the ticks each spans (discount gamma^ticks; None: 1).
            next_masks: the legal actions at each next observation (None: all).
        """
        ticks = np.ones(len(rewards)) if ticks is None else np.asarray(ticks)
        if next_masks is not None:  # stored as in the replay: a terminal row all-legal
            next_masks = np.asarray(next_masks, dtype=bool) | np.asarray(terminated, dtype=bool)[:, None]
        return self._bootstrap_targets(
            torch.as_tensor(np.asarray(rewards, dtype=np.float32)),
            torch.as_tensor(np.asarray(next_obs, dtype=np.float32).reshape(-1, self.obs_dim)),
            torch.as_tensor(np.asarray(terminated, dtype=np.float32)),
            torch.as_tensor((self.config.gamma ** ticks).astype(np.float32)),
            None if next_masks is None else torch.from_numpy(next_masks),
        )

    # -- episode extras -----------------------------------------------------------------------

    def episode_extras(self) -> dict[str, float]:
        """``epsilon``, ``loss_last`` and the mean, std and max of the episode's losses (NaN before updates)."""
        losses = self._episode_losses
        extras = {"epsilon": self.epsilon, "loss_last": self._last_loss}
        if losses:
            arr = np.asarray(losses)
            extras.update(loss_mean=float(arr.mean()), loss_std=float(arr.std()), loss_max=float(arr.max()))
        else:
            extras.update(loss_mean=math.nan, loss_std=math.nan, loss_max=math.nan)
        return extras

    def on_episode_start(self) -> None:
        """Start collecting the new episode's losses."""
        self._episode_losses = []

    # -- checkpoints --------------------------------------------------------------------------

    def _shapes(self) -> dict[str, Any]:
        return {"obs_dim": self.obs_dim, "n_actions": self.n_actions, "hidden": list(self.config.hidden)}

    def save(self, path: str | os.PathLike[str], include_replay: bool | None = None,
             session: dict[str, Any] | None = None) -> None:
        """The whole training state; the replay buffer's contents only if asked (``config.save_replay``).

        ``session``: plain data stored in the same file (a ``TrainingSession``'s counts), returned by ``load``.

        Args:
            path: the checkpoint file (written atomically).
            include_replay: keep the replay buffer's contents (None: ``config.save_replay``).
            session: plain data to store beside the agent.
        """
        with_replay = self.config.save_replay if include_replay is None else include_replay
        config = asdict(self.config)
        config["hidden"] = list(config["hidden"])
        save_checkpoint(path, self.algorithm, {
            "config": config,
            "shapes": self._shapes(),
            "action_space": action_space_to_dict(self.action_space),
            "q_net": self.q_net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counters": {"steps": self._steps, "updates": self._updates},
            "episode_losses": list(self._episode_losses),
            "explore_rng": numpy_rng_state(self.explore_rng),
            "replay": self.replay.state(with_replay),
            "session": session,
        })

    def load(self, path: str | os.PathLike[str]) -> dict[str, Any] | None:
        """Restore the training state from a checkpoint written by ``save`` (read with ``weights_only=True``).

        Args:
            path: the checkpoint file.

        Returns:
            The session state saved with it, or None. ``CheckpointError`` for another algorithm, other shapes or a corrupt file.
        """
        data = load_checkpoint(path, self.algorithm)
        check_shapes(path, data.get("shapes", {}), self._shapes())
        try:
            self.q_net.load_state_dict(data["q_net"])
            self.target_net.load_state_dict(data["target_net"])
            self.optimizer.load_state_dict(data["optimizer"])
            self._steps = int(data["counters"]["steps"])
            self._updates = int(data["counters"]["updates"])
            self._episode_losses = [float(x) for x in data["episode_losses"]]
            set_numpy_rng_state(self.explore_rng, data["explore_rng"])
            self.replay.load_state(data["replay"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt or incomplete: {exc}") from None
        return data.get("session")

    def to_policy(self) -> "GreedyPolicy":
        """An inference-only copy of the Q-network that acts greedily."""
        from .policy import GreedyPolicy

        return GreedyPolicy(self.q_net, self.obs_dim, self.action_space)
