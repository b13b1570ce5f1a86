"""The four processors the plugin installs around the game's own (see ARCHITECTURE "One tick")."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import esper

from ..core.types import EpisodeRecord, EpisodeStatus, Experience
from .components import ResetRequest
from .events import EpisodeEnd
from .policies import ComponentError

if TYPE_CHECKING:
    from .plugin import Plugin

RUNNING, TERMINATED, TRUNCATED = EpisodeStatus.RUNNING, EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED


class DecideProcessor(esper.Processor):
    """For every agent that needs a decision: one ``act_batch`` per policy, then write ``Action``."""

    def __init__(self, plugin: "Plugin") -> None:
        self.plugin = plugin

    def process(self, *args: Any, **kwargs: Any) -> None:
        plugin = self.plugin
        batches: dict[str, list[tuple[int, tuple]]] = {}
        for entity, comps in plugin.query():
            tracker = comps[5]
            if tracker.waiting or tracker.needs_reset:
                continue
            name = comps[0].policy
            rows = batches.get(name)
            if rows is None:
                entry = plugin.entry(name, entity)
                if entry.per_entity:
                    self._controller(entry, entity, comps)
                    continue
                rows = batches[name] = []
            rows.append((entity, comps))
        for name, rows in batches.items():
            entry = plugin.policies[name]
            entities = [entity for entity, _ in rows]
            obs_batch = entry.stack([comps[1].value for _, comps in rows], entities, "")
            ids = [e if comps[0].agent_id is None else comps[0].agent_id for e, comps in rows]
            actions = entry.act_batch(obs_batch, plugin.act_mode, ids)
            for k, (_, comps) in enumerate(rows):
                comps[2].value = actions[k]
                tracker = comps[5]
                tracker.waiting, tracker.decision_obs = True, obs_batch[k]
                tracker.decision_reward, tracker.ticks_since_decision = 0.0, 0

    @staticmethod
    def _controller(entry, entity: int, comps: tuple) -> None:
        value = entry.policy.decide(comps[1].value, entity)
        entry.check_action(entity, value)
        comps[2].value = value
        tracker = comps[5]
        tracker.waiting, tracker.decision_obs = True, None
        tracker.decision_reward, tracker.ticks_since_decision = 0.0, 0


class RecordProcessor(esper.Processor):
    """Collect rewards, close transitions (``session.observe``) and episodes (``EpisodeEnd`` events)."""

    def __init__(self, plugin: "Plugin") -> None:
        self.plugin = plugin

    def process(self, *args: Any, **kwargs: Any) -> None:
        plugin = self.plugin
        rows = plugin.query()
        plugin.track_membership(rows)
        learning = plugin.learning
        requests = esper.get_component(ResetRequest)  # manual resets cut this tick's episode
        requested = {e for e, _ in requests} if requests else None
        closing: dict[str, list[tuple]] = {}
        for entity, (agent, obs, action, reward, done, tracker) in rows:
            if not tracker.waiting:
                continue
            try:
                r = math.nan if isinstance(reward.value, (str, bytes)) else float(reward.value)  # float("1") parses
            except (TypeError, ValueError):
                r = math.nan
            if not math.isfinite(r):
                raise ComponentError(f"entity {entity}: Reward must be a finite number, got {reward.value!r}")
            reward.value = 0.0
            tracker.total_reward += r
            tracker.length += 1
            tracker.decision_reward += r
            tracker.ticks_since_decision += 1
            terminated, truncated = done.terminated, done.truncated or (requested is not None and entity in requested)
            ended = terminated or truncated
            status = TERMINATED if terminated else TRUNCATED if truncated else RUNNING
            if ended or tracker.ticks_since_decision >= agent.decision_period:
                tracker.waiting = False
                if learning and tracker.decision_obs is not None:
                    closing.setdefault(agent.policy, []).append(
                        (entity, agent, tracker.decision_obs, action.value, tracker.decision_reward, obs.value, status))
            if ended:
                plugin.end_episode(entity, agent, tracker, status)
        for name, items in closing.items():
            entry = plugin.policies[name]
            if entry.session is None:
                continue
            next_batch = entry.stack([it[5] for it in items], [it[0] for it in items], " (next)")
            observe = entry.session.observe
            for k, (entity, agent, obs, action, r, _, status) in enumerate(items):
                agent_id = entity if agent.agent_id is None else agent.agent_id
                observe(Experience(obs, action, r, next_batch[k], status, agent_id))


class EpisodeProcessor(esper.Processor):
    """Consume episode-end events: stats and logs, periodic evaluation, best model, done signal."""

    def __init__(self, plugin: "Plugin") -> None:
        self.plugin = plugin
        self.queue: list[EpisodeEnd] = []

    def process(self, *args: Any, **kwargs: Any) -> None:
        plugin = self.plugin
        queue = self.queue
        if queue:
            self.queue = []
        for event in queue:
            entry = plugin.policies.get(event.policy)
            if entry is None:
                continue
            if plugin.learning and entry.session is not None:
                entry.session.on_episode(event.total_reward, event.length, event.status, event.extras,
                                         agent_id=event.agent_id, entity=event.entity)
            else:
                record = EpisodeRecord(event.total_reward, event.length, event.status, event.extras)
                entry.stats.update(record)
                plugin.finished_records.setdefault(event.policy, []).append(record)
        if plugin.learning:
            plugin.maybe_evaluate()
            plugin.check_done()


class ResetProcessor(esper.Processor):
    """Call the game's reset hook on ended entities and on entities given a ``ResetRequest``."""

    def __init__(self, plugin: "Plugin") -> None:
        self.plugin = plugin

    def process(self, *args: Any, **kwargs: Any) -> None:
        plugin = self.plugin
        requests = esper.get_component(ResetRequest)
        if not requests and not plugin.pending_resets:
            return
        seeds: dict[int, int | None] = {}
        for entity, request in list(requests):
            esper.remove_component(entity, ResetRequest)
            seeds[entity] = request.seed
        pending, plugin.pending_resets = plugin.pending_resets, []
        for entity in dict.fromkeys([*pending, *seeds]):  # each once, in order
            if esper.entity_exists(entity):
                plugin.reset(entity, seeds.get(entity))
