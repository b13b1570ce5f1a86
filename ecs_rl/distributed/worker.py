"""A worker: its own esper world built by the game, the plugin, an acting copy of the policy, and the
transitions of a chunk of ticks handed back in one piece (one Ray call per chunk, never per step).

The plugin is installed as in a single process, with a session whose agent only records: it acts with
the acting copy (weights from the learner), and each transition, agent departure and episode end the
plugin produces goes into the chunk, in order, keyed by the world's own agent ids. Nothing learns here.
This module does not import Ray: ``ecs_rl.distributed.learner`` wraps ``WorldWorker`` as an actor.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import esper
import numpy as np

from ..core.session import TrainingSession
from ..core.types import ActMode, EpisodeStatus, Experience, Transitions
from ..ecs.events import EpisodeEnd
from ..games import load_game

STATUS = (EpisodeStatus.RUNNING, EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED)  # Chunk.status codes
_CODE = {s: i for i, s in enumerate(STATUS)}


@dataclass
class Chunk:
    """What one ``collect`` returns: the transitions of ``ticks`` ticks as arrays, row order kept.

    Tick ``t`` holds rows ``bounds[t]:bounds[t + 1]``. ``forgets``: ``(tick, row, key)``, the agent ``key``
    left before row ``row`` (its later rows, if any, start afresh). ``behaviour`` (PPO): raw actions,
    log-probabilities, sampling masks and the version of the weights that decided, per row. ``ends``: ``(tick, EpisodeEnd)``. ``open``: the
    episodes running at the chunk's end, ``(agent_id, entity, total_reward, length)``.
    """

    ticks: int
    bounds: np.ndarray
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    status: np.ndarray
    keys: np.ndarray
    spans: np.ndarray
    next_masks: np.ndarray | None
    behaviour: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray] | None
    forgets: list[tuple[int, int, int]] = field(default_factory=list)
    ends: list[tuple[int, EpisodeEnd]] = field(default_factory=list)
    open: list[tuple[int, int, float, int]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def writable(self) -> "Chunk":
        """The chunk with arrays of its own (Ray hands back read-only views of its object store)."""
        for name in ("obs", "actions", "rewards", "next_obs", "status", "keys", "spans"):
            setattr(self, name, np.array(getattr(self, name)))
        if self.next_masks is not None:
            self.next_masks = np.array(self.next_masks)
        return self

    def __len__(self) -> int:
        return len(self.keys)

    def transitions(self, lo: int, hi: int, offset: int) -> Transitions:
        """Rows ``lo:hi`` as the learner's transitions (arrays, no object per row), agent ids moved into the
        worker's namespace: the same rows as :meth:`experience` gives one at a time.

        Args:
            lo: the first row.
            hi: one past the last row.
            offset: the start of the worker's agent-id namespace in the session.
        """
        masks = None if self.next_masks is None or self.next_masks[lo:hi].all() else self.next_masks[lo:hi]
        return Transitions(self.obs[lo:hi], self.actions[lo:hi], self.rewards[lo:hi], self.next_obs[lo:hi],
                           self.status[lo:hi], self.keys[lo:hi] + offset, self.spans[lo:hi], masks)

    def experience(self, row: int, offset: int) -> Experience:
        """Row ``row`` as the learner's transition, its agent id moved into the worker's namespace.

        Args:
            row: the row of the chunk.
            offset: the start of the worker's agent-id namespace in the session.
        """
        mask = None if self.next_masks is None or self.next_masks[row].all() else self.next_masks[row]
        return Experience(self.obs[row], self.actions[row], float(self.rewards[row]), self.next_obs[row],
                          STATUS[self.status[row]], offset + int(self.keys[row]), int(self.spans[row]), mask)


class _Recorder:
    """The worker's agent as the plugin sees it: acts with the acting copy, records what it is told.

    Each tick's transitions are kept as the arrays of one :class:`Transitions` (a list of
    :class:`Experience` from the plugin is turned into one at once); a chunk is their concatenation."""

    def __init__(self, acting: Any) -> None:
        self.acting = acting
        self.observation_space, self.action_space = acting.observation_space, acting.action_space
        self.gamma = acting.gamma  # the plugin discounts rewards within a decision period with it
        self.n_actions = int(getattr(acting.action_space, "n", 0))
        self.clear()

    def clear(self) -> None:
        self.pieces: list[Transitions] = []
        self.behaviour: list[tuple[np.ndarray, float, np.ndarray | None, int]] = []  # PPO, per row
        self.rows = 0
        self.forgets: list[tuple[int, int]] = []  # (row, key)
        self.act_seconds = 0.0

    @property
    def total_steps(self) -> int:
        return 0

    def act_batch(self, obs: np.ndarray, mode: ActMode = ActMode.EXPLORE, agent_ids: Any = None,
                  masks: np.ndarray | None = None) -> np.ndarray:
        started = time.perf_counter()
        actions = self.acting.act_batch(obs, mode, agent_ids, masks)
        self.act_seconds += time.perf_counter() - started
        return actions

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLORE, agent_id: int = 0, mask: Any = None) -> Any:
        masks = None if mask is None else np.asarray(mask).reshape(1, -1)
        return self.act_batch(np.asarray(obs)[None], mode, [agent_id], masks)[0]

    def observe(self, experience: Experience) -> None:
        self.observe_batch([experience])

    def observe_batch(self, experiences: list[Experience]) -> None:
        self.observe_transitions(_transitions(experiences, self.acting.obs_dim, self.n_actions))

    def observe_transitions(self, batch: Transitions) -> None:
        if self.acting.algorithm == "ppo":
            self.behaviour += [self.acting.take(key) for key in batch.agent_ids.tolist()]
        self.pieces.append(batch)
        self.rows += len(batch)

    def forget(self, agent_id: int) -> None:
        self.acting.forget(agent_id)
        self.forgets.append((self.rows, int(agent_id)))

    def episode_extras(self) -> dict[str, float]:
        return {}

    def on_episode_start(self) -> None:
        pass

    def save(self, path: Any) -> None:
        raise RuntimeError("a worker's recorder holds no training state to save")

    def load(self, path: Any) -> None:
        raise RuntimeError("a worker's recorder holds no training state to load")


def _transitions(experiences: list[Experience], dim: int, n_actions: int) -> Transitions:
    """The plugin's transitions of one tick as arrays (status codes as in :data:`STATUS`)."""
    n = len(experiences)
    next_masks = None
    if any(e.next_mask is not None for e in experiences):
        next_masks = np.ones((n, n_actions), dtype=bool)
        for j, e in enumerate(experiences):
            if e.next_mask is not None:
                next_masks[j] = e.next_mask
    return Transitions(
        obs=np.asarray([e.obs for e in experiences], dtype=np.float32).reshape(n, dim),
        actions=np.asarray([e.action for e in experiences]),
        rewards=np.fromiter((e.reward for e in experiences), dtype=np.float64, count=n),
        next_obs=np.asarray([e.next_obs for e in experiences], dtype=np.float32).reshape(n, dim),
        status=np.fromiter((_CODE[e.status] for e in experiences), dtype=np.int8, count=n),
        agent_ids=np.fromiter((e.agent_id for e in experiences), dtype=np.int64, count=n),
        ticks=np.fromiter((e.ticks for e in experiences), dtype=np.int64, count=n),
        next_masks=next_masks)


class WorldWorker:
    """One world of ``game`` (a spec string, built again here) with ``envs`` agents seeded from ``seed``,
    acting with a copy of the learner's ``algorithm`` network built from ``config`` (a dict of its fields).

    Args:
        spec: the game spec string.
        algorithm: ``"dqn"`` or ``"ppo"``.
        config: the agent config's fields.
        envs: agents in the world.
        seed: the world's seed.
        index: the worker's number (its agent-id namespace).
        policy: the learning policy (default: the game's main one).
    """

    def __init__(self, spec: str, algorithm: str, config: dict[str, Any], envs: int, seed: int, index: int,
                 policy: str | None = None) -> None:
        from ..algorithms import configure_torch
        from ..algorithms.acting import ActingCopy

        configure_torch()  # this process's torch: one thread, as the benchmarks measure
        game = load_game(spec)
        self.index = index
        self.policy = policy or game.policy
        obs_space, action_space = game.spaces(self.policy)
        self.acting = ActingCopy(algorithm, obs_space, action_space, config, seed=[seed, index, 7])
        self.recorder = _Recorder(self.acting)
        self.world = f"ecs-rl:worker{index}"
        esper.switch_world(self.world)
        game.make_world(envs, seed)
        self.plugin = game.install({self.policy: TrainingSession(self.recorder)})
        self.plugin.on_episode_end(self._ended)
        self._ends: list[tuple[int, EpisodeEnd]] = []
        self._tick = 0

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def node(self) -> str:
        """The Ray node this worker runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def _ended(self, event: EpisodeEnd) -> None:
        if event.policy == self.policy:
            self._ends.append((self._tick, event))

    def collect(self, ticks: int, weights: dict[str, np.ndarray] | None = None, epsilon: float | None = None,
                version: int = 0, dt: float = 1 / 60) -> Chunk:
        """Take new weights (tagged ``version``) and epsilon, if given, run ``ticks`` ticks, and hand back
        their ``Chunk``.

        Args:
            ticks: how many ticks to run.
            weights: new network weights (numpy arrays), or None to keep the current ones.
            epsilon: DQN's exploration probability now.
            version: the tag of ``weights``, carried by every decision made with them.
            dt: the time step passed to ``esper.process``.
        """
        esper.switch_world(self.world)
        if weights is not None:
            self.acting.load(weights, version)
        if epsilon is not None:
            self.acting.epsilon = float(epsilon)
        rec = self.recorder
        rec.clear()
        self._ends = []
        bounds, forgets = [0], []
        started, cpu = time.perf_counter(), time.process_time()
        for tick in range(ticks):
            self._tick = tick
            seen = len(rec.forgets)
            esper.process(dt)
            forgets += [(tick, row, key) for row, key in rec.forgets[seen:]]
            bounds.append(rec.rows)
        world_seconds = time.perf_counter() - started
        packing = time.perf_counter()
        chunk = self._pack(ticks, np.asarray(bounds), forgets)
        chunk.seconds = {"world": world_seconds - rec.act_seconds, "act": rec.act_seconds,
                         "pack": time.perf_counter() - packing, "cpu": time.process_time() - cpu}
        return chunk

    def _pack(self, ticks: int, bounds: np.ndarray, forgets: list[tuple[int, int, int]]) -> Chunk:
        """The chunk's ticks as one set of arrays: each tick's :class:`Transitions` concatenated, once."""
        rec = self.recorder
        pieces = rec.pieces or [_transitions([], self.acting.obs_dim, rec.n_actions)]
        n, dim = rec.rows, self.acting.obs_dim

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in pieces])

        next_masks = None
        if any(p.next_masks is not None for p in pieces):
            next_masks = np.concatenate([np.ones((len(p), rec.n_actions), dtype=bool) if p.next_masks is None
                                         else p.next_masks for p in pieces])
        behaviour = None
        if self.acting.algorithm == "ppo":
            sampled = rec.behaviour
            masks = None
            if any(b[2] is not None for b in sampled):
                masks = np.ones((n, rec.n_actions), dtype=bool)
                for j, b in enumerate(sampled):
                    if b[2] is not None:
                        masks[j] = b[2]
            behaviour = (np.array([b[0] for b in sampled]), np.array([b[1] for b in sampled], dtype=np.float64),
                         masks, np.array([b[3] for b in sampled], dtype=np.int64))
        live = [(self.plugin.life.local_id(e, agent), e, t.total_reward, t.length)
                for e, (agent, t) in self.plugin.life.known.items()
                if agent.policy == self.policy and t.length > 0 and not t.needs_reset]
        return Chunk(
            ticks=ticks, bounds=bounds,
            obs=joined("obs").astype(np.float32, copy=False).reshape(n, dim), actions=joined("actions"),
            rewards=joined("rewards").astype(np.float64, copy=False),
            next_obs=joined("next_obs").astype(np.float32, copy=False).reshape(n, dim),
            status=joined("status").astype(np.int8, copy=False), keys=joined("agent_ids").astype(np.int64, copy=False),
            spans=joined("ticks").astype(np.int32, copy=False),
            next_masks=next_masks, behaviour=behaviour, forgets=forgets, ends=list(self._ends), open=live)
