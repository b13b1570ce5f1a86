"""Proximal Policy Optimisation (PPO) with per-agent rollouts, GAE and the clipped objective.

For each rollout (``n_steps`` transitions per agent, gathered under the current policy):

    delta_t   = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
    A_t       = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}              (GAE)
    R_t       = A_t + V(s_t)                                                   (value target)

then ``n_epochs`` passes of shuffled minibatches minimise

    ratio     = exp(log pi(a|s) - log pi_old(a|s))
    L_policy  = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))       (A normalised per minibatch)
    L         = L_policy + vf_coef * mean((V(s) - R)^2) - ent_coef * mean(entropy)

Transitions are matched to the ``act`` that produced them by agent id, never by arrival order, so
many entities can interleave freely. A truncated episode bootstraps: its last reward gets
``gamma * V(final observation)`` added, as if the episode went on. A transition spanning k ticks
(a decision period) discounts with gamma^k in place of gamma, in the TD error and in GAE's decay.

Action masks (Discrete only): masked logits are set to the lowest float before the softmax, so a
masked action has probability 0 and is never sampled; each rollout row keeps the mask it was
sampled under, and the update's log pi(a|s) and entropy use that same mask (the ratio compares
two policies over the same legal actions).

Agents come and go: ``forget(agent_id)`` closes that agent's segment (bootstrapped from its last
observation unless it ended) and it waits in the rollout for the next update; an update is due once
the rollout holds ``n_steps`` transitions per *live* agent, so departed agents never stall it.
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
    FlatAdam, mlp, numpy_rng_state, save_checkpoint, seeded_module, set_numpy_rng_state,
)
from .mlp_backward import PpoTerms, ppo_backward, ppo_figures

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class PpoConfig:
    """PPO hyper-parameters. Defaults follow the reference design:

    n_steps 128 (per agent per rollout), n_epochs 4, batch_size 64, learning_rate 2.5e-4,
    clip_range 0.2, vf_coef 0.5, ent_coef 0.01, gamma 0.99, gae_lambda 0.95, hidden (64, 64)
    for separate actor and critic MLPs (tanh, orthogonal init), max_grad_norm 0.5, advantages
    normalised per minibatch, no annealing (set ``anneal_steps`` and ``anneal_lr`` /
    ``anneal_clip`` for a linear decay to 0 over that many env steps), Gaussian log-std
    initialised at 0.0 for Box actions, Adam eps 1e-5, seed 0. Building the agent leaves torch's
    process-wide settings alone: call ``ecs_rl.algorithms.configure_torch()`` once (one thread,
    flush-denormal) for the speed the benchmarks measure.
    """

    n_steps: int = 128
    n_epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 2.5e-4
    clip_range: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    gamma: float = 0.99
    gae_lambda: float = 0.95
    hidden: tuple[int, ...] = (64, 64)
    max_grad_norm: float | None = 0.5
    normalize_advantage: bool = True
    anneal_steps: int | None = None
    anneal_lr: bool = False
    anneal_clip: bool = False
    log_std_init: float = 0.0
    adam_eps: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        for name in ("n_steps", "n_epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"PpoConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if (self.anneal_lr or self.anneal_clip) and not self.anneal_steps:
            raise ValueError("PpoConfig.anneal_steps must be set (> 0) when anneal_lr or anneal_clip is on")
        if not 0.0 <= self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError("PpoConfig.gamma and gae_lambda must be in [0, 1]")
        if not (isinstance(self.learning_rate, (int, float)) and 0.0 <= self.learning_rate < math.inf):
            raise ValueError(f"PpoConfig.learning_rate must be a finite number >= 0, got {self.learning_rate!r}")


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs; a categorical head for Discrete, a Gaussian one for Box actions."""

    def __init__(self, obs_dim: int, action_dim: int, continuous: bool, hidden: Sequence[int], log_std_init: float):
        super().__init__()
        self.continuous = continuous
        self.actor = mlp((obs_dim, *hidden, action_dim), nn.Tanh, out_gain=0.01)
        self.critic = mlp((obs_dim, *hidden, 1), nn.Tanh, out_gain=1.0)
        if continuous:
            self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor, with_entropy_grad: bool = True,
                         masks: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) and the policy's entropy at s (kept out of the autograd graph if not trained on),
        under the action ``masks`` (bool, True = legal) when given."""
        out = self.logits(obs, masks)
        if self.continuous:
            log_std = self.log_std.expand_as(out)
            logp = (-0.5 * ((actions - out) / log_std.exp()) ** 2 - log_std - 0.5 * _LOG_2PI).sum(-1)
            with torch.set_grad_enabled(with_entropy_grad and torch.is_grad_enabled()):
                entropy = (0.5 + 0.5 * _LOG_2PI + log_std).sum(-1)
        else:
            log_probs = torch.log_softmax(out, dim=-1)
            logp = log_probs.gather(1, actions.long().unsqueeze(1)).squeeze(1)
            with torch.set_grad_enabled(with_entropy_grad and torch.is_grad_enabled()):
                entropy = -(log_probs.exp() * log_probs).sum(-1)
        return logp, entropy

    def logits(self, obs: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """The actor's output; masked actions' logits set to the lowest float (probability 0, finite entropy)."""
        out = self.actor(obs)
        if masks is not None:
            out = out.masked_fill(~masks, torch.finfo(out.dtype).min)
        return out

    def sample(self, obs: torch.Tensor, rng: np.random.Generator,
               masks: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw actions (raw, unclipped) and their log-probs with the agent's own numpy RNG."""
        out = self.logits(obs, masks)
        if self.continuous:
            log_std = self.log_std.numpy()
            noise = rng.standard_normal(out.shape, dtype=np.float32)
            actions = out.numpy() + np.exp(log_std) * noise
            logp = (-0.5 * noise**2 - log_std - 0.5 * _LOG_2PI).sum(-1)
        else:
            log_probs = torch.log_softmax(out, dim=-1).numpy()
            # inverse-CDF sampling: the first action whose cumulative probability exceeds u
            u = rng.random((len(log_probs), 1), dtype=np.float32)
            cdf = np.cumsum(np.exp(log_probs), axis=1)
            if masks is not None:  # u in (0, 1] and a cdf ending at exactly 1: the first action whose cdf
                cdf /= cdf[:, -1:]  # reaches u has probability > 0, whatever the rounding
                u = 1.0 - u
            actions = np.minimum((u > cdf).sum(axis=1), log_probs.shape[1] - 1)
            logp = log_probs[np.arange(len(actions)), actions]
        return actions, logp

    def greedy(self, obs: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        out = self.logits(obs, masks)
        return out if self.continuous else out.argmax(dim=-1)


class _Segment:
    """One agent's transitions in the current rollout."""

    __slots__ = ("obs", "actions", "logps", "masks", "rewards", "dones", "discounts", "last_next_obs")

    def __init__(self) -> None:
        self.obs: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.logps: list[float] = []
        self.masks: list[np.ndarray | None] = []  # the action mask each action was sampled under (None: all legal)
        self.rewards: list[float] = []
        self.dones: list[bool] = []
        self.discounts: list[float] = []  # gamma ** ticks of each transition
        self.last_next_obs: np.ndarray | None = None


class PpoAgent:
    """PPO for ``Box`` observations and ``Discrete`` or ``Box`` actions (a ``LearningAgent``).

    Args:
        observation_space: a ``Box`` of the observations.
        action_space: ``Discrete`` (categorical policy) or ``Box`` (Gaussian policy).
        config: the hyper-parameters (default: ``PpoConfig()``; ``presets`` has tuned ones).
    """

    algorithm = "ppo"

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: PpoConfig | None = None) -> None:
        self.config = config = config or PpoConfig()
        self.observation_space, self.action_space = observation_space, action_space
        self.obs_dim = box_dim(observation_space, "PPO observation_space")
        if isinstance(action_space, gym.spaces.Discrete):
            self.continuous, self.action_dim = False, int(action_space.n)
            self._action_start = int(action_space.start)
        elif isinstance(action_space, gym.spaces.Box):
            self.continuous, self.action_dim = True, int(np.prod(action_space.shape))
        else:
            raise TypeError(f"PPO needs a Discrete or Box action space, got {action_space!r}")
        self.net = seeded_module(config.seed, lambda: ActorCritic(
            self.obs_dim, self.action_dim, self.continuous, config.hidden, config.log_std_init))
        self.params = FlatParameters(self.net)
        self.optimizer = FlatAdam(self.params.param, config.learning_rate, eps=config.adam_eps)
        seeds = np.random.SeedSequence(config.seed).spawn(2)
        self.sample_rng = np.random.default_rng(seeds[0])
        self.shuffle_rng = np.random.default_rng(seeds[1])
        self._steps = 0
        self._updates = 0
        self._pending: dict[int, tuple[np.ndarray, np.ndarray, float, np.ndarray | None]] = {}
        self._segments: dict[int, _Segment] = {}  # live agents' segments
        self._closed: list[_Segment] = []  # segments of agents that left, waiting for the update
        self._rollout_len = 0
        self._last_update: dict[str, float] = {}
        self.hold_updates = False  # True: observe() leaves the update to update_if_due()

    @property
    def total_steps(self) -> int:
        """Transitions observed so far."""
        return self._steps

    @property
    def gamma(self) -> float:
        """The discount factor (``config.gamma``)."""
        return self.config.gamma

    # -- acting -------------------------------------------------------------------------------

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLORE, agent_id: int = 0, mask: np.ndarray | None = None) -> Any:
        """One action for one observation (sampled while exploring, the mode of the distribution when exploiting).

        Args:
            obs: the observation.
            mode: ``ActMode.EXPLORE`` (sample, and remember the action's log-probability for ``observe``) or ``ActMode.EXPLOIT``.
            agent_id: the agent acting: its rollout segment is keyed by it.
            mask: optional bool array of legal actions (Discrete spaces).
        """
        masks = None if mask is None else np.asarray(mask).reshape(1, -1)
        action = self.act_batch(np.asarray(obs, dtype=np.float32).reshape(1, self.obs_dim), mode, [agent_id],
                                masks)[0]
        return action if self.continuous else int(action)

    def act_batch(
        self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLORE, agent_ids: Sequence[int] | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """One forward pass for all rows; in explore mode each row's decision is remembered under its agent id.

        ``masks``: an ``(n, n_actions)`` bool array, True = legal (Discrete only); masked actions are never
        returned, and each row's mask is kept with its decision for the update.

        Args:
            obs_batch: observations stacked on the first axis.
            mode: ``ActMode.EXPLORE`` (sample) or ``ActMode.EXPLOIT`` (the distribution's mode).
            agent_ids: the agent of each row (default ``0..n-1``): its transition is matched to this decision.
            masks: optional ``(n, n_actions)`` bool array of legal actions.
        """
        # a private copy: the rows are kept until their transitions arrive, and callers reuse their arrays
        obs_batch = np.array(obs_batch, dtype=np.float32).reshape(-1, self.obs_dim)
        obs_t = torch.from_numpy(obs_batch)
        masks_t = None
        if masks is not None:
            masks = legal_masks(masks, len(obs_batch), self.action_space).copy()
            masks_t = torch.from_numpy(masks)
        with torch.inference_mode():
            if mode is ActMode.EXPLOIT:
                actions = self.net.greedy(obs_t, masks_t).numpy()
                return self._to_env(actions)
            actions, logps = self.net.sample(obs_t, self.sample_rng, masks_t)
        ids = range(len(obs_batch)) if agent_ids is None else agent_ids
        if len(ids) != len(obs_batch):
            raise ValueError(f"agent_ids has {len(ids)} ids for {len(obs_batch)} observations")
        for row, agent_id in enumerate(ids):
            self._pending[int(agent_id)] = (obs_batch[row], actions[row], float(logps[row]),
                                            None if masks is None else masks[row])
        return self._to_env(actions)

    def decided(self, agent_id: int, obs: Any, action: Any, logp: float, mask: np.ndarray | None = None) -> None:
        """A decision an acting copy of this policy made elsewhere, with the current weights (a distributed
        worker): remembered as ``act_batch`` remembers its own, so ``observe`` takes its transition.
        ``action`` is the raw sample (before clipping or the Discrete offset), ``logp`` its log-probability,
        ``mask`` the legal actions it was sampled under.

        Args:
            agent_id: the agent that decided.
            obs: the observation it decided on.
            action: the raw sampled action.
            logp: its log-probability.
            mask: the legal actions it was sampled under.
        """
        obs = np.array(obs, dtype=np.float32)
        if obs.size != self.obs_dim:
            raise ValueError(f"PpoAgent.decided: agent {agent_id}'s observation has {obs.size} values (shape "
                             f"{obs.shape}); the policy's observations have {self.obs_dim}")
        self._pending[int(agent_id)] = (obs.reshape(self.obs_dim), np.array(action),
                                        float(logp), None if mask is None else np.array(mask, dtype=bool))

    @property
    def updates(self) -> int:
        """Updates made so far (a caller feeding decisions made elsewhere sees when the policy changed)."""
        return self._updates

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the environment takes them: clipped to the Box bounds, offset for Discrete(start)."""
        if self.continuous:
            return np.clip(actions.reshape(len(actions), *self.action_space.shape), self.action_space.low,
                           self.action_space.high).astype(self.action_space.dtype)
        return actions.astype(np.int64) + self._action_start

    # -- collecting ---------------------------------------------------------------------------

    def observe(self, experience: Experience) -> None:
        """Add the transition to its agent's segment; update once every active agent has ``n_steps``.

        Args:
            experience: the transition of an agent that decided through ``act_batch`` (or ``decided``).
        """
        self._observe_row(int(experience.agent_id), float(experience.reward), experience.ticks,
                          experience.truncated, experience.done,
                          np.array(experience.next_obs, dtype=np.float32).reshape(self.obs_dim))

    def observe_transitions(self, batch: Transitions) -> None:
        """``observe`` every row of ``batch`` in order, without an :class:`Experience` per row.

        Args:
            batch: the transitions as arrays, rows in the order they happened.
        """
        n = len(batch)
        next_obs = np.array(batch.next_obs, dtype=np.float32).reshape(n, self.obs_dim)  # rows kept: our own copy
        status = np.asarray(batch.status)
        for agent_id, reward, ticks, code, final in zip(np.asarray(batch.agent_ids).tolist(),
                                                        np.asarray(batch.rewards, dtype=np.float64).tolist(),
                                                        np.asarray(batch.ticks).tolist(), status.tolist(), next_obs):
            self._observe_row(agent_id, reward, ticks, code == 2, code != 0, final)

    def _observe_row(self, agent_id: int, reward: float, ticks: int, truncated: bool, done: bool,
                     next_obs: np.ndarray) -> None:
        pending = self._pending.pop(agent_id, None)
        if pending is None:
            raise RuntimeError(f"PPO got a transition for agent {agent_id} without an explore-mode act for it")
        obs, action, logp, mask = pending
        discount = self.config.gamma ** ticks
        if truncated:  # cut short, not finished: bootstrap from the true final observation
            with torch.inference_mode():
                reward += discount * float(self.net.value(torch.from_numpy(next_obs).reshape(1, self.obs_dim))[0])
        seg = self._segments.get(agent_id)
        if seg is None:
            seg = self._segments[agent_id] = _Segment()
        seg.obs.append(obs)
        seg.actions.append(action)
        seg.logps.append(logp)
        seg.masks.append(mask)
        seg.rewards.append(reward)
        seg.dones.append(done)
        seg.discounts.append(discount)
        seg.last_next_obs = next_obs
        self._steps += 1
        self._rollout_len += 1
        if not self.hold_updates:
            self.update_if_due()

    def update_if_due(self) -> bool:
        """Update if the rollout holds ``n_steps`` per live agent; whether it did. ``observe`` calls it
        after each transition unless ``hold_updates`` is set (a caller feeding rounds of decisions made
        elsewhere with one set of weights calls it between rounds, so no round is cut by an update)."""
        n_steps = self.config.n_steps
        if self._rollout_len and self._rollout_len >= n_steps * max(len(self._segments), len(self._pending)) and \
                self._rollout_len >= n_steps * len(self._segments.keys() | self._pending.keys()):
            self._update()  # n_steps per live agent (the set is built only once the cheaper bound is met)
            return True
        return False

    def forget(self, agent_id: int) -> None:
        """The actor is gone: drop its pending decision and close its segment (it stays in the rollout,
        bootstrapped from its last observation unless it ended). A new actor under the same id starts afresh.

        Args:
            agent_id: the agent that is gone.
        """
        agent_id = int(agent_id)
        self._pending.pop(agent_id, None)
        seg = self._segments.pop(agent_id, None)
        if seg is not None and seg.rewards:
            self._closed.append(seg)

    def forget_all(self) -> None:
        """Every actor is gone (its world did not survive, e.g. after a resume): close all segments."""
        for agent_id in list(self._segments.keys() | self._pending.keys()):
            self.forget(agent_id)

    def _advantages(self) -> tuple[np.ndarray, ...]:
        """GAE over every agent's segment, bootstrapping unfinished segments from V(last next_obs).

        The values come from one critic pass over the whole rollout: the parameters have not changed
        since the rollout's actions were chosen, so these are the values the policy had then.
        """
        c = self.config
        segs = self._rollout()
        open_segs = [s for s in segs if not s.dones[-1]]
        obs = np.stack([o for s in segs for o in s.obs])
        with torch.inference_mode():
            all_values = self.net.value(torch.from_numpy(np.concatenate(
                [obs, *([np.stack([s.last_next_obs for s in open_segs])] if open_segs else [])]))).numpy()
        last_values = {id(s): float(x) for s, x in zip(open_segs, all_values[len(obs):])}
        offsets = np.cumsum([0] + [len(s.rewards) for s in segs])
        all_adv, all_vals = [], []
        for k, seg in enumerate(segs):
            rewards = np.asarray(seg.rewards, dtype=np.float32)
            values = all_values[offsets[k]:offsets[k + 1]]
            all_vals.append(values)
            not_done = 1.0 - np.asarray(seg.dones, dtype=np.float32)
            next_values = np.append(values[1:], last_values.get(id(seg), 0.0))
            discounts = seg.discounts
            deltas = rewards + np.asarray(discounts) * next_values * not_done - values
            adv = np.zeros_like(rewards)
            running = 0.0
            for t in range(len(rewards) - 1, -1, -1):
                running = deltas[t] + discounts[t] * c.gae_lambda * not_done[t] * running
                adv[t] = running
            all_adv.append(adv)
        actions = np.stack([a for s in segs for a in s.actions])
        logps = np.concatenate([np.asarray(s.logps, dtype=np.float32) for s in segs])
        adv = np.concatenate(all_adv)
        return obs, actions, logps, adv, adv + np.concatenate(all_vals)

    def _rollout(self) -> list[_Segment]:
        """The rollout's segments, in the order of its rows: departed agents' first, then live ones'."""
        return [*self._closed, *(s for s in self._segments.values() if s.rewards)]

    def _rollout_masks(self) -> np.ndarray | None:
        """Every row's action mask (rows sampled without one: all legal), or None if no row had one."""
        segs = self._rollout()
        if all(m is None for s in segs for m in s.masks):
            return None
        legal = np.ones(self.action_dim, dtype=bool)
        return np.stack([legal if m is None else m for s in segs for m in s.masks])

    def _progress_remaining(self) -> float:
        c = self.config
        return max(0.0, 1.0 - self._steps / c.anneal_steps) if c.anneal_steps else 1.0

    def _update(self) -> None:
        c = self.config
        masks = self._rollout_masks()
        masks = None if masks is None else torch.from_numpy(masks)
        obs, actions, old_logps, advantages, returns = (torch.from_numpy(x) for x in self._advantages())
        self._segments.clear()
        self._closed.clear()
        self._rollout_len = 0
        progress = self._progress_remaining()
        lr = c.learning_rate * (progress if c.anneal_lr else 1.0)
        clip = c.clip_range * (progress if c.anneal_clip else 1.0)
        self.optimizer.lr = lr
        n = len(obs)
        whole = c.batch_size >= n  # one minibatch holds the whole rollout: shuffling it changes nothing
        if whole and c.normalize_advantage and n > 1:  # the same minibatch every epoch: normalise it once
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        terms = []  # per minibatch: the loss's per-row terms, for the update's figures
        for _ in range(c.n_epochs):
            order = None if whole else torch.from_numpy(self.shuffle_rng.permutation(n))
            for start in range(0, n, c.batch_size):
                if whole:
                    mb_obs, mb_actions, mb_old, adv, mb_returns = obs, actions, old_logps, advantages, returns
                    mb_masks = masks
                else:
                    mb = order[start:start + c.batch_size]
                    mb_obs, mb_actions, mb_old, adv, mb_returns = (
                        obs[mb], actions[mb], old_logps[mb], advantages[mb], returns[mb])
                    mb_masks = None if masks is None else masks[mb]
                    if c.normalize_advantage and len(adv) > 1:
                        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                terms.append(self._loss_backward(mb_obs, mb_actions, mb_old, adv, mb_returns, clip, mb_masks))
                self.params.clip_grad_norm(c.max_grad_norm)
                self.optimizer.step()
        self._updates += 1
        self._last_update = dict(zip(self._EXTRAS, ppo_figures(terms, clip)), learning_rate=lr)

    def _loss_backward(self, obs: torch.Tensor, actions: torch.Tensor, old_logps: torch.Tensor,
                       adv: torch.Tensor, returns: torch.Tensor, clip: float,
                       masks: torch.Tensor | None = None) -> PpoTerms:
        """The gradient of L on one minibatch (under the rows' action ``masks``), written into the parameters'
        ``.grad``; returns the loss's per-row terms, out of the autograd graph.

        Categorical actions without an entropy bonus take the backward pass written out in
        mlp_backward.py (bit-identical to autograd's, and faster); anything else in the loss (an
        entropy bonus, Gaussian actions) goes through autograd.
        """
        c = self.config
        if not self.continuous and c.ent_coef == 0.0:
            return ppo_backward(self.net.actor, self.net.critic, obs, actions, old_logps, adv, returns, clip,
                                c.vf_coef, masks)
        logp, entropy = self.net.log_prob_entropy(obs, actions, with_entropy_grad=c.ent_coef != 0.0, masks=masks)
        value = self.net.value(obs)
        log_ratio = logp - old_logps
        ratio = log_ratio.exp()
        unclipped, clipped = ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv
        pg_loss = -torch.min(unclipped, clipped).mean()
        error = value - returns
        v_loss = (error**2).mean()
        loss = pg_loss + c.vf_coef * v_loss - c.ent_coef * entropy.mean()
        self.params.zero_grad()
        loss.backward()
        return PpoTerms(*(x.detach() for x in (log_ratio, ratio, unclipped, clipped, error)), entropy=entropy.detach())

    # -- episode extras -----------------------------------------------------------------------

    _EXTRAS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")

    def episode_extras(self) -> dict[str, float]:
        """Figures of the last update (NaN before the first)."""
        return {k: self._last_update.get(k, math.nan) for k in self._EXTRAS}

    def on_episode_start(self) -> None:
        """Nothing to reset: PPO's rollouts are per agent, not per episode."""
        pass

    # -- checkpoints --------------------------------------------------------------------------

    def _shapes(self) -> dict[str, Any]:
        return {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "continuous": self.continuous,
                "hidden": list(self.config.hidden)}

    def save(self, path: str | os.PathLike[str], session: dict[str, Any] | None = None) -> None:
        """The whole training state, including the rollout in progress and actions awaiting their transition.

        ``session``: plain data stored in the same file (a ``TrainingSession``'s counts), returned by ``load``.

        Args:
            path: the checkpoint file (written atomically).
            session: plain data to store beside the agent.
        """
        config = asdict(self.config)
        config["hidden"] = list(config["hidden"])
        def segment(agent_id: int | None, s: _Segment) -> dict[str, Any]:
            return {
                "agent_id": agent_id,
                "obs": torch.from_numpy(np.stack(s.obs)) if s.obs else torch.zeros(0, self.obs_dim),
                "actions": torch.from_numpy(np.stack(s.actions)) if s.actions else torch.zeros(0),
                "logps": list(s.logps), "rewards": list(s.rewards), "masks": _masks_to_tensor(s.masks),
                "dones": list(s.dones), "discounts": list(s.discounts),
                "last_next_obs": None if s.last_next_obs is None else torch.from_numpy(s.last_next_obs.copy()),
            }

        segments = [segment(agent_id, s) for agent_id, s in self._segments.items()]
        closed = [segment(None, s) for s in self._closed]
        pending = [
            {"agent_id": k, "obs": torch.from_numpy(o.copy()), "action": torch.from_numpy(np.asarray(a).copy()),
             "logp": lp, "mask": None if m is None else torch.from_numpy(m.copy())}
            for k, (o, a, lp, m) in self._pending.items()
        ]
        save_checkpoint(path, self.algorithm, {
            "config": config,
            "shapes": self._shapes(),
            "action_space": action_space_to_dict(self.action_space),
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counters": {"steps": self._steps, "updates": self._updates, "rollout_len": self._rollout_len},
            "last_update": dict(self._last_update),
            "sample_rng": numpy_rng_state(self.sample_rng),
            "shuffle_rng": numpy_rng_state(self.shuffle_rng),
            "segments": segments,
            "closed": closed,
            "pending": pending,
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
            self.net.load_state_dict(data["net"])
            self.optimizer.load_state_dict(data["optimizer"])
            counters = data["counters"]
            self._steps, self._updates = int(counters["steps"]), int(counters["updates"])
            self._rollout_len = int(counters["rollout_len"])
            self._last_update = {k: float(v) for k, v in data["last_update"].items()}
            set_numpy_rng_state(self.sample_rng, data["sample_rng"])
            set_numpy_rng_state(self.shuffle_rng, data["shuffle_rng"])
            self._segments = {int(s["agent_id"]): self._load_segment(s) for s in data["segments"]}
            self._closed = [self._load_segment(s) for s in data.get("closed", [])]
            self._pending = {
                int(p["agent_id"]): (p["obs"].numpy(), p["action"].numpy(), float(p["logp"]),
                                     None if p.get("mask") is None else p["mask"].numpy())
                for p in data["pending"]
            }
        except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt or incomplete: {exc}") from None
        return data.get("session")

    def _load_segment(self, s: dict[str, Any]) -> _Segment:
        seg = _Segment()
        seg.obs = list(s["obs"].numpy())
        seg.actions = list(s["actions"].numpy())
        seg.logps = [float(x) for x in s["logps"]]
        masks = s.get("masks")
        seg.masks = [None] * len(seg.logps) if masks is None else [
            None if bool(row.all()) else row.numpy() for row in masks]
        seg.rewards, seg.dones = [float(x) for x in s["rewards"]], [bool(x) for x in s["dones"]]
        seg.discounts = [float(x) for x in s.get("discounts", [self.config.gamma] * len(seg.rewards))]
        seg.last_next_obs = None if s["last_next_obs"] is None else s["last_next_obs"].numpy()
        return seg

    def to_policy(self) -> "GreedyPolicy":
        """An inference-only copy of the actor: the mean action (Box) or the most likely one (Discrete)."""
        from .policy import GreedyPolicy

        return GreedyPolicy(self.net.actor, self.obs_dim, self.action_space)


def _masks_to_tensor(masks: list[np.ndarray | None]) -> torch.Tensor | None:
    """A segment's masks for a checkpoint (rows without one stored all-legal), or None if no row had one."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    legal = np.ones_like(present[0])
    return torch.from_numpy(np.stack([legal if m is None else m for m in masks]))
