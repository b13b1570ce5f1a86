"""One call installs training into the current esper world: ``plugin = install(policies, reset=...)``."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import esper

from ..core.types import ActMode, EpisodeRecord, EpisodeStatus
from .components import Agent
from .evaluation import EvalResult, Evaluation, WorldFactory
from .events import EPISODE_END, TRAINING_DONE, EpisodeEnd, forget_handlers_at_exit
from .lifecycle import Lifecycle
from .policies import PolicyEntry
from .processors import DecideProcessor, EpisodeProcessor, RecordProcessor, ResetProcessor

#: The game's reset hook: put a fresh state and ``Observation`` on ``entity`` (seed may be None).
ResetHook = Callable[[int, "int | None"], None]

_eval_worlds = itertools.count()
_ON_END = ("reset", "delete")


@dataclass(frozen=True, slots=True)
class Priorities:
    """Where the plugin's processors sit; the game's processors go between ``decide`` and ``record``."""

    decide: int = 100
    record: int = -100
    episode: int = -200
    reset: int = -300


class Plugin:
    """The installed plugin: its policies, its processors, and the world it lives in.

    ``learning=False`` acts greedily and records episodes without training (evaluation, ``watch``);
    ``on_end="delete"`` deletes an entity whose episode ended instead of calling the reset hook.
    """

    def __init__(self, policies: Mapping[str, Any], reset: ResetHook | None = None, *,
                 evaluation: Evaluation | None = None, priorities: Priorities = Priorities(),
                 learning: bool = True, on_end: str = "reset") -> None:
        if not policies:
            raise ValueError("policies must name at least one policy")
        if on_end not in _ON_END:
            raise ValueError(f"on_end must be 'reset' or 'delete', got {on_end!r}")
        if reset is None and on_end == "reset":
            raise TypeError("install() needs the game's reset hook reset(entity, seed), or on_end='delete'")
        if reset is not None and not callable(reset):
            raise TypeError(f"reset must be the game's reset hook reset(entity, seed), got {reset!r}")
        self.policies = {name: PolicyEntry(name, p) for name, p in policies.items()}
        self._sessions = [e.session for e in self.policies.values() if e.session is not None]
        self.reset_hook = reset
        self.evaluation = evaluation
        self.priorities = priorities
        self.learning = learning
        self.on_end = on_end
        self.done = False
        self.eval_history: list[EvalResult] = []
        self._callbacks: list[Callable[[EpisodeEnd], Any]] = []
        self.life = Lifecycle(self.policies, learning, on_end, reset, self._dispatch)
        act_mode = ActMode.EXPLORE if learning else ActMode.EXPLOIT
        self.decide = DecideProcessor(self.life, self.policies, act_mode)
        self.record = RecordProcessor(self.life, self.policies, learning)
        self.episode = EpisodeProcessor(self._handle_episode_ends)
        self.reset_processor = ResetProcessor(self.life)
        # a plain function held here: esper keeps handlers by weak reference, and removes them by equality
        self._handler = lambda event: self.episode.queue.append(event)
        if evaluation is not None:
            for entry in self.policies.values():
                entry.next_eval = (entry.session.total_steps // evaluation.every + 1) * evaluation.every \
                    if entry.session is not None else 0

    @property
    def world(self) -> str | None:
        """The esper world the plugin is installed in (None when not installed)."""
        return self.life.world

    # -- install ------------------------------------------------------------------------------

    def install(self) -> "Plugin":
        if esper.get_processor(DecideProcessor) is not None:
            raise RuntimeError(f"an ecs-rl plugin is already installed in esper world {esper.current_world!r}")
        self.life.attach(esper.current_world)
        p = self.priorities
        esper.add_processor(self.decide, p.decide)
        esper.add_processor(self.record, p.record)
        esper.add_processor(self.episode, p.episode)
        esper.add_processor(self.reset_processor, p.reset)
        esper.set_handler(EPISODE_END, self._handler)
        forget_handlers_at_exit()  # no "Exception ignored ... KeyError" from esper at interpreter exit
        return self

    def uninstall(self) -> None:
        """Remove this plugin's processors and handler from its world (if that world still holds them).

        Live episodes end as truncated (extra ``plugin_removed`` = 1) and are logged; the sessions
        forget the world's agents, and a plugin installed later starts fresh episodes.
        """
        world = self.life.world
        if world is None:
            return
        self._handle_episode_ends(self.life.leave_all(), after=False)
        if world in esper.list_worlds():
            current = esper.current_world
            esper.switch_world(world)
            try:
                if esper.get_processor(DecideProcessor) is self.decide:  # not a later plugin's
                    for kind in (DecideProcessor, RecordProcessor, EpisodeProcessor, ResetProcessor):
                        esper.remove_processor(kind)
                    esper.remove_handler(EPISODE_END, self._handler)
            finally:
                esper.switch_world(current)
        self.life.world = None

    def on_episode_end(self, fn: Callable[[EpisodeEnd], Any]) -> Callable[[EpisodeEnd], Any]:
        """Call ``fn(event)`` for every episode that ends in this plugin's world (held strongly: lambdas work).

        Callbacks run inside the plugin's episode processor: they may spawn entities, but must leave
        esper's current world as they found it. (esper's own ``set_handler(EPISODE_END, fn)`` works
        too, but esper holds handlers by weak reference and per world: a lambda there is collected.)
        """
        self._callbacks.append(fn)
        return fn

    # -- episode ends, evaluation and done ----------------------------------------------------

    def _dispatch(self, event: EpisodeEnd) -> None:
        esper.dispatch_event(EPISODE_END, event)

    def _handle_episode_ends(self, events: list[EpisodeEnd], after: bool = True) -> None:
        for event in events:
            entry = self.policies.get(event.policy)
            if entry is None:
                continue
            if self.learning and entry.session is not None:
                entry.session.on_episode(event.total_reward, event.length, event.status, event.extras,
                                         agent_id=event.agent_id, entity=event.entity)
            else:
                entry.stats.update(EpisodeRecord(event.total_reward, event.length, event.status, event.extras))
            for fn in self._callbacks:
                fn(event)
        if self.learning and after:
            self.maybe_evaluate()
            self.check_done()

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
        """Greedy episodes in a fresh world built by the evaluation factory; the training world is untouched.

        Logs each episode in the session's run and saves ``best`` when the mean beats every earlier one.
        """
        ev = self.evaluation
        if ev is None:
            raise RuntimeError("evaluate() needs install(..., evaluation=Evaluation(factory, ...))")
        entries = entries or [e for e in self.policies.values() if e.session is not None]
        step = max(e.session.total_steps for e in entries)
        results = run_episodes(ev.factory, {n: e.policy for n, e in self.policies.items()}, ev.episodes,
                               seed=ev.seed_at(step), reset=self.reset_hook, evaluate=[e.name for e in entries],
                               max_ticks=ev.max_ticks, dt=ev.dt, priorities=self.priorities)
        for entry in entries:
            result = results[entry.name]
            result.step = entry.session.total_steps
            for record in result.records:
                entry.session.on_eval_episode(record, policy=entry.name, seed=result.seed)
            if result.records:
                entry.session.maybe_save_best(result.mean_reward)
            self.eval_history.append(result)
        return [results[e.name] for e in entries]

    def freeze(self, name: str, policy: Any = None) -> None:
        """Stop training policy ``name`` while other sessions go on (it reached its own step budget): from
        the next decision its agents act with ``policy`` (default: the session's greedy policy,
        ``agent.to_policy()``), and its session gets no more transitions, episodes or evaluations (episodes
        in progress are not logged). ``done`` still waits for every session the plugin was made with."""
        entry = self.policies.get(name)
        if entry is None or entry.session is None:
            raise ValueError(f"freeze() needs a learning policy of this plugin, got {name!r}")
        frozen = PolicyEntry(name, entry.session.agent.to_policy() if policy is None else policy)
        frozen.obs_shape, frozen.obs_dtype = entry.obs_shape, entry.obs_dtype
        self.policies[name] = frozen  # the processors and the lifecycle share this mapping

    def check_done(self) -> None:
        sessions = self._sessions
        if sessions and not self.done and all(s.is_done() for s in sessions):
            self.done = True
            esper.dispatch_event(TRAINING_DONE)


def install(policies: Mapping[str, Any], reset: ResetHook | None = None, *, evaluation: Evaluation | None = None,
            priorities: Priorities = Priorities(), on_end: str = "reset") -> Plugin:
    """Install training into the current esper world.

    ``policies`` maps the names used in ``Agent(policy=...)`` to a ``TrainingSession`` (learns), anything
    with ``act_batch`` (a frozen policy: acts greedily), or a controller with ``decide(obs, entity)``.
    ``reset(entity, seed)`` is the game's hook that starts a fresh episode on an entity; with
    ``on_end="delete"`` ended entities are deleted instead (the game spawns new ones) and no hook is needed.
    """
    return Plugin(policies, reset, evaluation=evaluation, priorities=priorities, on_end=on_end).install()


def run_episodes(factory: WorldFactory, policies: Mapping[str, Any], episodes: int, *, seed: int | None,
                 reset: ResetHook | None = None, evaluate: list[str] | None = None, max_ticks: int = 10_000,
                 dt: float = 1 / 60, priorities: Priorities = Priorities(), world: str | None = None,
                 drive: Callable[[Callable[[], bool]], None] | None = None) -> dict[str, EvalResult]:
    """Play episodes without learning in a world of their own: the one episode runner of ecs-rl.

    Builds ``factory(episodes, seed)`` in a fresh esper world (``world``, default a unique name; an
    existing world is refused), installs ``policies`` there (sessions and frozen policies act
    greedily, controllers as they do), and scores the first episode of each agent entity the factory
    built (the first ``episodes`` per policy in ``evaluate``, default all policies; entities the game
    spawns later play along but are not scored, so short episodes are not favoured). Entities whose
    episode ended are deleted. It stops when every scored episode ended or after ``max_ticks`` ticks;
    episodes still running then are recorded as truncated with extra ``unfinished`` = 1.
    ``drive(stop)`` may step the world itself (a window); by default it runs headless. The world is
    deleted after.
    """
    names = list(policies) if evaluate is None else list(evaluate)
    previous = esper.current_world
    name = world or f"{previous}.episodes{next(_eval_worlds)}"
    if name in esper.list_worlds():
        raise ValueError(f"esper world {name!r} already exists: run_episodes builds and deletes a world of its own")
    started, ticks = time.perf_counter(), 0
    scored: dict[int, EpisodeRecord] = {}
    esper.switch_world(name)
    try:
        factory(episodes, seed)
        cohort = {n: sorted(e for e, agent in esper.get_component(Agent) if agent.policy == n)[:episodes]
                  for n in names}
        members = {e for entities in cohort.values() for e in entities}
        runner = Plugin(policies, reset, priorities=priorities, learning=False, on_end="delete").install()

        def score(event: EpisodeEnd) -> None:
            if event.entity in members and event.entity not in scored:
                scored[event.entity] = EpisodeRecord(event.total_reward, event.length, event.status, event.extras)

        runner.on_episode_end(score)

        def finished() -> bool:  # every scored episode ended (or its entity vanished before it began)
            return len(scored) == len(members) or all(e in scored or not esper.entity_exists(e) for e in members)

        if drive is None:
            while ticks < max_ticks and not finished():
                esper.process(dt)
                ticks += 1
        else:
            drive(finished)
        for entity in members - scored.keys():  # still running (or never started)
            _, tracker = runner.life.known.get(entity, (None, None))
            if tracker is not None:
                scored[entity] = EpisodeRecord(tracker.total_reward, tracker.length, EpisodeStatus.TRUNCATED,
                                               {"unfinished": 1.0})
    finally:
        esper.switch_world(previous)
        esper.delete_world(name)
    seconds = time.perf_counter() - started
    return {n: EvalResult(n, [scored[e] for e in cohort[n] if e in scored], seed=seed, ticks=ticks, seconds=seconds)
            for n in names}
