"""The four processors the plugin installs around the game's own.

One tick, by priority: decide (100: one ``act_batch`` per policy, ``Action`` written), the game's
processors (read ``Action``; write ``Observation``, ``Reward``, ``Done``), record (-100: transitions
up to each budget, evaluation at exact step counts, episode ends), episode (-200: stats, logs, budgets
spent, done), reset (-300: the next episodes).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import esper
import numpy as np

from ..core.types import ActMode, EpisodeStatus, Transitions
from .components import ActionMask, Agent, ResetRequest
from .events import EpisodeEnd
from .lifecycle import Lifecycle
from .policies import ComponentError, PolicyEntry

TERMINATED, TRUNCATED = EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED
_NOTHING: frozenset[int] = frozenset()


def _dying() -> "set[int] | frozenset[int]":
    """Entities deleted this tick (``esper.delete_entity``, pending until the next ``esper.process``).

    Read from esper's per-world set when it has one (one empty-set test per tick instead of an
    ``entity_exists`` call per agent); otherwise every agent entity is asked."""
    dead = getattr(esper, "_dead_entities", None)
    if isinstance(dead, set):
        return dead
    return {e for e, _ in esper.get_component(Agent) if not esper.entity_exists(e)}


class DecideProcessor(esper.Processor):
    """For every agent that needs a decision: one ``act_batch`` per policy, then write ``Action``."""

    def __init__(self, life: Lifecycle, policies: Mapping[str, PolicyEntry], act_mode: ActMode) -> None:
        self.life = life
        self.policies = policies
        self.act_mode = act_mode

    def process(self, *args: Any, **kwargs: Any) -> None:
        life = self.life
        life.check_world()
        batches: dict[str, list[tuple[int, tuple]]] = {}
        dying = _dying() or _NOTHING
        rows = life.rows()  # agents deleted since the last tick close here, with no step of their own
        life.in_tick = True
        masks = life.tick_masks = _masks()
        for entity, comps in rows:
            agent, observation, action, _, done, tracker = comps
            if tracker.needs_reset:
                continue
            if tracker.waiting:  # within a decision period: the held action, unless the game made it illegal
                if masks is None or not life.close_held_if_illegal(entity, comps, masks.get(entity)):
                    continue
            if done.terminated or done.truncated or entity in dying:
                _ended_outside_the_tick(entity, done)
                continue
            rows = batches.get(agent.policy)
            if rows is None:
                entry = life.entry(agent.policy, entity)
                if entry.per_entity:
                    _decide_one(entry, entity, observation.value, action, tracker)
                    continue
                rows = batches[agent.policy] = []
            rows.append((entity, comps))
        for name, rows in batches.items():
            entry = self.policies[name]
            entities = [e for e, _ in rows]
            obs_batch = entry.stack([comps[1].value for _, comps in rows], entities, "")
            mask_batch = entry.stack_masks(masks, entities) if masks else None
            actions = entry.act_batch(obs_batch, self.act_mode, [comps[5].key for _, comps in rows], mask_batch)
            for k, (_, (_, _, action, _, _, tracker)) in enumerate(rows):
                action.value = actions[k]
                tracker.waiting, tracker.decision_obs = True, obs_batch[k]
                tracker.decision_reward, tracker.ticks_since_decision = 0.0, 0


def _masks() -> dict[int, Any] | None:
    """Every entity's ``ActionMask`` value, read once per tick; None (no cost) in a game without masks."""
    masked = esper.get_component(ActionMask)
    return {e: m.value for e, m in masked} if masked else None


def _ended_outside_the_tick(entity: int, done: Any) -> None:
    """An agent deleted before decide sits out (its episode closes next tick); a ``Done`` set before
    decide has no transition to end, so it is refused rather than credited to an action never taken."""
    if done.terminated or done.truncated:
        raise ComponentError(
            f"entity {entity}: Done was set before the plugin's decide processor ran; set Done (or delete the "
            "entity) in a game processor between decide (priority 100) and record (-100)")


def _decide_one(entry: PolicyEntry, entity: int, observation: Any, action: Any, tracker: Any) -> None:
    """A controller (scripted, human) decides for one entity."""
    value = entry.policy.decide(observation, entity)
    entry.check_action(entity, value)
    action.value = value
    tracker.waiting, tracker.decision_obs = True, None
    tracker.decision_reward, tracker.ticks_since_decision = 0.0, 0


def _reward(entity: int, value: Any) -> float:
    """The tick's reward as a float; anything but a finite real number is refused, naming the entity."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ComponentError(f"entity {entity}: Reward must be a finite number, got {value!r}")
    r = float(value)
    if not math.isfinite(r):
        raise ComponentError(f"entity {entity}: Reward must be a finite number, got {value!r}")
    return r


class RecordProcessor(esper.Processor):
    """Collect rewards, close transitions (``session.observe``) and episodes (``EpisodeEnd`` events).

    Over a decision period the transition's reward is ``sum_i gamma^i r_i`` (the learner's gamma) and
    it carries ``ticks`` so the learner bootstraps with ``gamma ** ticks``. Each policy's transitions
    of the tick go to ``learn(entry, transitions)`` as one :class:`Transitions` batch (the plugin: budgets,
    evaluation steps).
    """

    def __init__(self, life: Lifecycle, policies: Mapping[str, PolicyEntry], learning: bool,
                 learn: Callable[[PolicyEntry, Transitions], None]) -> None:
        self.life = life
        self.policies = policies
        self.learning = learning
        self.learn = learn

    def process(self, *args: Any, **kwargs: Any) -> None:
        life = self.life
        life.check_world()
        rows = life.rows()  # agents deleted (immediate=True) by the game's processors this tick: last step counts
        life.in_tick = False
        requests = esper.get_component(ResetRequest)  # manual resets cut this tick's episode
        requested = {e for e, _ in requests} if requests else None
        closing: dict[str, list[tuple]] = {}
        dying = _dying() or _NOTHING
        for entity, (agent, obs, action, reward, done, tracker) in rows:
            if not tracker.waiting:
                continue
            r = reward.value
            if type(r) is not float or not math.isfinite(r):
                r = _reward(entity, r)
            reward.value = 0.0
            tracker.total_reward += r
            tracker.length += 1
            k = tracker.ticks_since_decision
            tracker.decision_reward += r if k == 0 else r * self.policies[agent.policy].gamma ** k
            tracker.ticks_since_decision = k + 1
            gone = entity in dying  # the game deleted it this tick: its episode ends here
            terminated = done.terminated
            truncated = done.truncated or gone or (requested is not None and entity in requested)
            ended = terminated or truncated
            if ended or k + 1 >= agent.decision_period:
                tracker.waiting = False
                tracker.decisions += 1
                if self.learning and tracker.decision_obs is not None:
                    closing.setdefault(agent.policy, []).append(
                        (entity, action.value, obs.value, 1 if terminated else 2 if truncated else 0,
                         tracker.decision_obs, tracker.decision_reward, tracker.key, k + 1))
            if ended:
                life.end_episode(entity, agent, tracker, TERMINATED if terminated else TRUNCATED)
        masks = _masks() if closing else None
        for name, items in closing.items():
            entry = self.policies[name]
            if entry.session is None:
                continue
            # the policy's transitions of the tick as arrays, one row per agent (no object per agent)
            entities, actions, values, codes, decided, rewards, keys, ticks = zip(*items)
            next_batch = entry.stack(values, entities, " (next)")
            next_masks = None
            if masks:  # the legal actions at next_obs (a terminal state may have none)
                next_masks = entry.stack_masks(masks, entities, " (next)", [c == 1 for c in codes])
            self.learn(entry, Transitions(np.array(decided), np.array(actions), np.array(rewards, dtype=np.float64),
                                          next_batch, np.array(codes, dtype=np.int8), np.array(keys, dtype=np.int64),
                                          np.array(ticks, dtype=np.int64), next_masks))


class EpisodeProcessor(esper.Processor):
    """Hand the tick's episode-end events to the plugin (stats and logs, spent budgets, done)."""

    def __init__(self, handle: Callable[[list[EpisodeEnd]], None]) -> None:
        self.handle = handle
        self.queue: list[EpisodeEnd] = []

    def process(self, *args: Any, **kwargs: Any) -> None:
        queue = self.queue
        if queue:
            self.queue = []
        self.handle(queue)


class ResetProcessor(esper.Processor):
    """Start the next episode of ended entities and of entities given a ``ResetRequest``."""

    def __init__(self, life: Lifecycle) -> None:
        self.life = life

    def process(self, *args: Any, **kwargs: Any) -> None:
        life = self.life
        life.check_world()  # an episode-end callback may have switched worlds
        requests = esper.get_component(ResetRequest)
        if not requests and not life.pending_resets:
            return
        seeds: dict[int, int | None] = {}
        for entity, request in list(requests):
            esper.remove_component(entity, ResetRequest)
            seeds[entity] = request.seed
        pending, life.pending_resets = life.pending_resets, []
        for entity in dict.fromkeys([*pending, *seeds]):  # each once, in order
            if esper.entity_exists(entity):
                life.reset(entity, seeds.get(entity), requested=entity in seeds)
