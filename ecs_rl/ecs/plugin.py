"""One call installs training into the current esper world: ``plugin = install(policies, reset=...)``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import esper
import numpy as np

from ..core.types import ActMode, EpisodeRecord, EpisodeStatus
from .components import AGENT_COMPONENTS, Agent, EpisodeInfo, EpisodeTracker
from .events import EPISODE_END, TRAINING_DONE, EpisodeEnd
from .policies import ComponentError, PolicyEntry
from .processors import DecideProcessor, EpisodeProcessor, RecordProcessor, ResetProcessor

#: The game's reset hook: put a fresh state and ``Observation`` on ``entity`` (seed may be None).
ResetHook = Callable[[int, "int | None"], None]
#: Builds a world's entities and game processors in the current esper world: ``factory(n_envs, seed)``.
WorldFactory = Callable[[int, "int | None"], Any]

_eval_worlds = itertools.count()


@dataclass(frozen=True, slots=True)
class Priorities:
    """Where the plugin's processors sit; the game's processors go between ``decide`` and ``record``."""

    decide: int = 100
    record: int = -100
    episode: int = -200
    reset: int = -300


@dataclass(slots=True)
class Evaluation:
    """Every ``every`` steps of a learning session, run one greedy episode on each of ``episodes``
    agent entities in a separate world built by ``factory(episodes, seed)``; log them, save ``best``."""

    factory: WorldFactory
    every: int = 10_000
    episodes: int = 20
    seed: int = 10_000
    dt: float = 1 / 60
    max_ticks: int = 100_000

    def __post_init__(self) -> None:
        if self.every < 1 or self.episodes < 1:
            raise ValueError(f"Evaluation.every and .episodes must be >= 1, got {self.every}, {self.episodes}")


@dataclass(slots=True)
class EvalResult:
    step: int
    policy: str
    records: list[EpisodeRecord]

    @property
    def mean_reward(self) -> float:
        return float(np.mean([r.total_reward for r in self.records])) if self.records else float("nan")


class Plugin:
    """The installed plugin: its policies, its processors, and the world it lives in."""

    def __init__(self, policies: Mapping[str, Any], reset: ResetHook, *, evaluation: Evaluation | None = None,
                 priorities: Priorities = Priorities(), learning: bool = True, one_episode: bool = False) -> None:
        if not policies:
            raise ValueError("policies must name at least one policy")
        if not callable(reset):
            raise TypeError(f"reset must be the game's reset hook reset(entity, seed), got {reset!r}")
        self.policies = {name: PolicyEntry(name, p) for name, p in policies.items()}
        self._sessions = [e.session for e in self.policies.values() if e.session is not None]
        self.reset_hook = reset
        self.evaluation = evaluation
        self.priorities = priorities
        self.learning = learning  # False: act greedily, record episodes, never observe (evaluation, watch)
        self.one_episode = one_episode  # True: an entity whose episode ends is deleted, not reset
        self.act_mode = ActMode.EXPLORE if learning else ActMode.EXPLOIT
        self.world: str | None = None
        self.done = False
        self.pending_resets: list[int] = []
        self.finished_records: dict[str, list[EpisodeRecord]] = {}
        self.eval_history: list[EvalResult] = []
        self._known: dict[int, tuple[Agent, EpisodeTracker]] = {}
        self._last_rows: Any = None
        self.decide = DecideProcessor(self)
        self.record = RecordProcessor(self)
        self.episode = EpisodeProcessor(self)
        self.reset_processor = ResetProcessor(self)
        # a plain function held here: esper keeps handlers by weak reference, and removes them by equality
        self._handler = lambda event: self.episode.queue.append(event)
        if evaluation is not None:
            for entry in self.policies.values():
                entry.next_eval = (entry.session.total_steps // evaluation.every + 1) * evaluation.every \
                    if entry.session is not None else 0

    # -- install ------------------------------------------------------------------------------

    def install(self) -> "Plugin":
        if esper.get_processor(DecideProcessor) is not None:
            raise RuntimeError(f"an ecs-rl plugin is already installed in esper world {esper.current_world!r}")
        self.world = esper.current_world
        p = self.priorities
        esper.add_processor(self.decide, p.decide)
        esper.add_processor(self.record, p.record)
        esper.add_processor(self.episode, p.episode)
        esper.add_processor(self.reset_processor, p.reset)
        esper.set_handler(EPISODE_END, self._handler)
        return self

    def uninstall(self) -> None:
        """Remove the processors and the event handler from the world they were installed in."""
        if self.world is None:
            return
        current = esper.current_world
        esper.switch_world(self.world)
        try:
            for kind in (DecideProcessor, RecordProcessor, EpisodeProcessor, ResetProcessor):
                esper.remove_processor(kind)
            esper.remove_handler(EPISODE_END, self._handler)
        finally:
            esper.switch_world(current)
        self.world = None

    # -- helpers used by the processors -------------------------------------------------------

    def query(self) -> list[tuple[int, tuple]]:
        return esper.get_components(*AGENT_COMPONENTS)

    def entry(self, name: str, entity: int) -> PolicyEntry:
        entry = self.policies.get(name)
        if entry is None:
            raise ComponentError(f"entity {entity}: Agent names unknown policy {name!r}; "
                                 f"known: {', '.join(sorted(self.policies))}")
        return entry

    def track_membership(self, rows: list) -> None:
        """When the set of agent entities changed: check components, close episodes of deleted entities."""
        if rows is self._last_rows:
            return
        self._last_rows = rows
        if len(rows) != len(esper.get_component(Agent)):
            complete = {e for e, _ in rows}
            for entity, _ in esper.get_component(Agent):
                if entity not in complete:
                    missing = [c.__name__ for c in AGENT_COMPONENTS if not esper.has_component(entity, c)]
                    raise ComponentError(f"entity {entity}: has Agent but lacks {', '.join(missing)} "
                                         "(create agents with ecs_rl.ecs.agent_components)")
        present = {e for e, _ in rows}
        for entity in [e for e in self._known if e not in present]:
            agent, tracker = self._known.pop(entity)
            entry = self.policies.get(agent.policy)
            agent_id = entity if agent.agent_id is None else agent.agent_id
            if tracker.length > 0 and not tracker.needs_reset:  # deleted mid-episode: it ends truncated
                self._dispatch(EpisodeEnd(entity, agent.policy, agent_id, EpisodeStatus.TRUNCATED,
                                          tracker.total_reward, tracker.length, {"entity_removed": 1.0}))
            if entry is not None and entry.session is not None:
                entry.session.forget(agent_id)
        for entity, comps in rows:
            if entity not in self._known:
                self._known[entity] = (comps[0], comps[5])

    def end_episode(self, entity: int, agent: Agent, tracker: EpisodeTracker, status: EpisodeStatus) -> None:
        info = esper.try_component(entity, EpisodeInfo)
        extras = dict(info.extras) if info is not None else {}
        agent_id = entity if agent.agent_id is None else agent.agent_id
        self._dispatch(EpisodeEnd(entity, agent.policy, agent_id, status, tracker.total_reward, tracker.length,
                                  extras))
        tracker.needs_reset = True
        self.pending_resets.append(entity)

    def _dispatch(self, event: EpisodeEnd) -> None:
        esper.dispatch_event(EPISODE_END, event)

    def reset(self, entity: int, seed: int | None) -> None:
        if self.one_episode:
            esper.delete_entity(entity)
            return
        self.reset_hook(entity, seed)
        _, _, _, reward, done, tracker = (esper.component_for_entity(entity, c) for c in AGENT_COMPONENTS)
        reward.value = 0.0
        done.terminated = done.truncated = False
        tracker.total_reward, tracker.length, tracker.episodes = 0.0, 0, tracker.episodes + 1
        tracker.waiting = tracker.needs_reset = False
        tracker.decision_obs, tracker.decision_reward, tracker.ticks_since_decision = None, 0.0, 0

    # -- evaluation and done ------------------------------------------------------------------

    def maybe_evaluate(self) -> None:
        ev = self.evaluation
        if ev is None:
            return
        due = [e for e in self.policies.values() if e.session is not None and e.session.total_steps >= e.next_eval]
        if not due:
            return
        for entry in due:
            entry.next_eval = (entry.session.total_steps // ev.every + 1) * ev.every
        self.evaluate(due)

    def evaluate(self, entries: list[PolicyEntry] | None = None) -> list[EvalResult]:
        """Run greedy episodes in a fresh world built by the evaluation factory; the training world is untouched."""
        ev = self.evaluation
        if ev is None:
            raise RuntimeError("evaluate() needs install(..., evaluation=Evaluation(factory, ...))")
        entries = entries or [e for e in self.policies.values() if e.session is not None]
        train_world = esper.current_world
        eval_world = f"{train_world}.eval{next(_eval_worlds)}"
        esper.switch_world(eval_world)
        try:
            ev.factory(ev.episodes, ev.seed)
            evaluator = Plugin({n: e.policy for n, e in self.policies.items()}, self.reset_hook,
                               priorities=self.priorities, learning=False, one_episode=True).install()
            names = {e.name for e in entries}
            for _ in range(ev.max_ticks):
                esper.process(ev.dt)
                esper.clear_dead_entities()
                if not any(agent.policy in names for _, agent in esper.get_component(Agent)):
                    break
        finally:
            esper.switch_world(train_world)
            esper.delete_world(eval_world)
        results = []
        for entry in entries:
            records = evaluator.finished_records.get(entry.name, [])
            result = EvalResult(entry.session.total_steps, entry.name, records)
            for record in records:
                entry.session.on_eval_episode(record, policy=entry.name)
            if records:
                entry.session.maybe_save_best(result.mean_reward)
            results.append(result)
        self.eval_history.extend(results)
        return results

    def check_done(self) -> None:
        sessions = self._sessions
        if sessions and not self.done and all(s.is_done() for s in sessions):
            self.done = True
            esper.dispatch_event(TRAINING_DONE)


def install(policies: Mapping[str, Any], reset: ResetHook, *, evaluation: Evaluation | None = None,
            priorities: Priorities = Priorities()) -> Plugin:
    """Install training into the current esper world.

    ``policies`` maps the names used in ``Agent(policy=...)`` to a ``TrainingSession`` (learns), anything
    with ``act_batch`` (a frozen policy: acts greedily), or a controller with ``decide(obs, entity)``.
    ``reset(entity, seed)`` is the game's hook that starts a fresh episode on an entity.
    """
    return Plugin(policies, reset, evaluation=evaluation, priorities=priorities).install()
