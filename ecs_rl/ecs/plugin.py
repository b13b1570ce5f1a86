"""One call installs training into the current esper world: ``plugin = install(policies, reset=...)``."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import esper

from ..core.types import ActMode, EpisodeRecord, EpisodeStatus, Experience, Transitions
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
    """Where the plugin's processors sit; the game's processors go between ``decide`` and ``record``.

    esper runs processors from high priority to low, and a processor added without a priority gets 0,
    so a game's processors are in the right place by default.

    Attributes:
        decide: gathers observations, acts (one forward pass per policy), writes ``Action``.
        record: builds each agent's transition and hands it to its session; notes episode ends.
        episode: consumes episode ends: statistics, logs, evaluation, checkpoints, the done signal.
        reset: calls the game's reset hook on ended entities (or deletes them with ``on_end="delete"``).
    """

    decide: int = 100
    record: int = -100
    episode: int = -200
    reset: int = -300


class Plugin:
    """The installed plugin: its policies, its processors, and the world it lives in.

    ``learning=False`` acts greedily and records episodes without training (evaluation, ``watch``, a shipped
    game); a policy may be given as the path of an exported ``.npz`` / ``.onnx`` file;
    ``on_end="delete"`` deletes an entity whose episode ended instead of calling the reset hook.

    Budgets: each session learns until its own ``with_max_steps`` budget, exactly (transitions past it
    are not learned from); it is then frozen (see ``freeze``) and plays greedily while the others
    go on. ``max_steps`` is an optional budget for all learning policies together. ``done`` turns true
    when every policy that still learns reached its budget (or ``max_steps`` was reached).

    Args:
        policies: policy name -> session, frozen policy, controller or exported policy path (see ``install``).
        reset: the game's reset hook ``reset(entity, seed)``.
        evaluation: periodic greedy evaluation in a world of its own.
        priorities: where the plugin's processors sit.
        learning: False for inference only.
        on_end: ``"reset"`` or ``"delete"``.
        max_steps: a budget for all learning policies together.
    """

    def __init__(self, policies: Mapping[str, Any], reset: ResetHook | None = None, *,
                 evaluation: Evaluation | None = None, priorities: Priorities = Priorities(),
                 learning: bool = True, on_end: str = "reset", max_steps: int | None = None) -> None:
        if not policies:
            raise ValueError("policies must name at least one policy")
        if on_end not in _ON_END:
            raise ValueError(f"on_end must be 'reset' or 'delete', got {on_end!r}")
        if reset is None and on_end == "reset":
            raise TypeError("install() needs the game's reset hook reset(entity, seed), or on_end='delete'")
        if reset is not None and not callable(reset):
            raise TypeError(f"reset must be the game's reset hook reset(entity, seed), got {reset!r}")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0):
            raise ValueError(f"max_steps must be an integer >= 0 (or None), got {max_steps!r}")
        self.policies = {name: PolicyEntry(name, _exported(name, p)) for name, p in policies.items()}
        self._learners = {name: e for name, e in self.policies.items() if e.session is not None}
        self._frozen: dict[str, str] = {}  # policy -> why it does not learn: "frozen" or "budget"
        self.max_steps = max_steps
        self.steps = 0  # transitions learned through this plugin, all policies together
        self.reset_hook = reset
        self.evaluation = evaluation
        self.priorities = priorities
        self.learning = learning
        self.on_end = on_end
        self.done = False
        self.eval_history: list[EvalResult] = []
        self._callbacks: list[Callable[[EpisodeEnd], Any]] = []
        self.life = Lifecycle(self.policies, learning, on_end, reset, self._dispatch, self.learn)
        act_mode = ActMode.EXPLORE if learning else ActMode.EXPLOIT
        self.decide = DecideProcessor(self.life, self.policies, act_mode)
        self.record = RecordProcessor(self.life, self.policies, learning, self.learn)
        self.episode = EpisodeProcessor(self._handle_episode_ends)
        self.reset_processor = ResetProcessor(self.life)
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
        """Add the plugin's processors to the current esper world at its priorities (``install()`` does this); returns the plugin."""
        if esper.get_processor(DecideProcessor) is not None:
            raise RuntimeError(f"an ecs-rl plugin is already installed in esper world {esper.current_world!r}")
        self.life.attach(esper.current_world)
        p = self.priorities
        esper.add_processor(self.decide, p.decide)
        esper.add_processor(self.record, p.record)
        esper.add_processor(self.episode, p.episode)
        esper.add_processor(self.reset_processor, p.reset)
        if self.learning:
            self._retire_spent()  # a resumed session may already be at its budget
            self.check_done()
        forget_handlers_at_exit()  # no "Exception ignored ... KeyError" from esper at interpreter exit
        return self

    def uninstall(self) -> None:
        """Remove this plugin's processors from its world (if that world still holds them).

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
        # the plugin's own queue is a plain list (esper's handler registry holds weak references, per
        # world, and its clean-up of a collected handler looks in whatever world is current then);
        # the esper event is for the game's handlers
        self.episode.queue.append(event)
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
            self._retire_spent()
            self.check_done()

    # -- learning: budgets and evaluation at exact step counts --------------------------------

    def learn(self, entry: PolicyEntry, experiences: "list[Experience] | Transitions") -> None:
        """Hand a policy's closed transitions (a list of :class:`Experience`, or the record processor's
        :class:`Transitions` arrays) to its session, in order, up to its budget (and the
        plugin's ``max_steps``): the rest are not learned from. An evaluation falls due when the
        session's count reaches a multiple of ``Evaluation.every`` and runs right then, before the
        next transition is learned from, so it evaluates the policy of exactly that step.

        Args:
            entry: the policy's entry in ``plugin.policies``.
            experiences: its closed transitions, in order.
        """
        session = entry.session
        if session is None:
            return
        n = len(experiences)
        if session.max_steps is not None:
            n = min(n, session.max_steps - session.total_steps)
        if self.max_steps is not None:
            n = min(n, self.max_steps - self.steps)
        i = 0
        while i < n:
            upto = n if self.evaluation is None else min(n, i + max(0, entry.next_eval - session.total_steps))
            if upto > i:
                session.observe_batch(experiences[i:upto])
            self.steps += upto - i
            i = upto
            if self.evaluation is not None and session.total_steps >= entry.next_eval:
                entry.next_eval = (session.total_steps // self.evaluation.every + 1) * self.evaluation.every
                self.evaluate([entry])

    def _retire_spent(self) -> None:
        """Freeze every learning policy whose session reached its budget (it plays greedily from now on)."""
        for name, entry in self._learners.items():
            if name not in self._frozen and entry.session.is_done():
                self._freeze(name, None, "budget")

    def evaluate(self, entries: list[PolicyEntry] | None = None) -> list[EvalResult]:
        """Greedy episodes in a fresh world built by the evaluation factory; the training world is untouched.

        ``entries`` defaults to every learning policy not frozen by hand (those that spent their budget
        included); name one frozen by hand with ``[plugin.policies[name]]`` (its session plays greedily).
        Logs each episode in the session's run and saves ``best`` when the mean beats every earlier one.
        """
        ev = self.evaluation
        if ev is None:
            raise RuntimeError("evaluate() needs install(..., evaluation=Evaluation(factory, ...))")
        if entries:
            unknown = [e.name for e in entries if e.name not in self._learners]
            if unknown:
                raise ValueError(f"evaluate() scores learning policies of this plugin "
                                 f"({', '.join(self._learners) or 'none'}); got {', '.join(map(repr, unknown))}")
            entries = [self._learners[e.name] for e in entries]  # a frozen one's entry: its session's
        entries = entries or [e for n, e in self._learners.items() if self._frozen.get(n) != "frozen"]
        if not entries:
            raise ValueError("evaluate(): every learning policy is frozen by hand; unfreeze one or name it "
                             "(evaluate([plugin.policies[name]]))")
        step = max(e.session.total_steps for e in entries)
        acting = {n: e.policy for n, e in self.policies.items()} | {e.name: e.session for e in entries}
        results = run_episodes(ev.factory, acting, ev.episodes,
                               seed=ev.seed_at(step), reset=self.reset_hook, evaluate=[e.name for e in entries],
                               max_ticks=ev.max_ticks, ticks=ev.ticks, dt=ev.dt, priorities=self.priorities)
        for entry in entries:
            result = results[entry.name]
            result.step = entry.session.total_steps
            for record in result.records:
                entry.session.on_eval_episode(record, policy=entry.name, seed=result.seed, eval_ticks=result.ticks)
            if result.records:
                entry.session.maybe_save_best(result.mean_reward)
            self.eval_history.append(result)
        return [results[e.name] for e in entries]

    # -- freezing -----------------------------------------------------------------------------

    def freeze(self, name: str, policy: Any = None) -> None:
        """Stop training policy ``name`` (its session keeps its weights, counts and run) while the others go on.

        From the next decision its agents act with ``policy`` (anything with ``act_batch``, e.g. a
        ``GreedyPolicy``; default: ``agent.to_policy()``, the session's greedy policy now, or the agent
        itself acting greedily). Calling it again on a frozen policy swaps what it acts with (e.g. a past
        snapshot). Its session gets no transitions, episodes or evaluations while frozen; episodes in
        progress are logged nowhere (the frozen policy's ``stats`` counts the episodes it plays).
        """
        entry = self._learners.get(name)
        if entry is None:
            raise ValueError(f"freeze() needs a learning policy of this plugin ({', '.join(self._learners) or 'none'}),"
                             f" got {name!r}")
        self._freeze(name, policy, self._frozen.get(name, "frozen"))

    def unfreeze(self, name: str) -> None:
        """Policy ``name`` learns again with its session, from the agents' next decisions."""
        entry = self._learners.get(name)
        if entry is None:
            raise ValueError(f"unfreeze() needs a learning policy of this plugin "
                             f"({', '.join(self._learners) or 'none'}), got {name!r}")
        if name not in self._frozen:
            return
        if entry.session.is_done():
            raise ValueError(f"policy {name!r} reached its budget of {entry.session.max_steps:,} steps; give it "
                             "more with session.with_max_steps(n) before unfreeze()")
        del self._frozen[name]
        self._forget_pending(name, forget=False)
        self.policies[name] = entry
        if self.evaluation is not None:
            every = self.evaluation.every
            entry.next_eval = (entry.session.total_steps // every + 1) * every
        if self.done:
            self.done = False
            self.check_done()

    @property
    def frozen(self) -> frozenset[str]:
        """The learning policies that do not learn now (frozen by hand or at their budget)."""
        return frozenset(self._frozen)

    def acting(self, name: str) -> Any:
        """What policy ``name`` acts with now: its session while it learns, else its frozen policy."""
        if name not in self.policies:
            raise ValueError(f"no policy {name!r} in this plugin; known: {', '.join(self.policies)}")
        return self.policies[name].policy

    def progress(self) -> dict[str, PolicyProgress]:
        """Per learning policy: steps learned, its budget and whether it learns, is frozen or spent its budget."""
        return {name: PolicyProgress(name, e.session.total_steps, e.session.max_steps,
                                     self._frozen.get(name, "learning"), e.session.total_episodes)
                for name, e in self._learners.items()}

    def _freeze(self, name: str, policy: Any, why: str) -> None:
        learner = self._learners[name]
        if policy is None:
            agent = learner.session.agent
            to_policy = getattr(agent, "to_policy", None)
            policy = to_policy() if callable(to_policy) else _Greedy(agent)
        frozen = PolicyEntry(name, policy)
        if frozen.session is not None or frozen.per_entity:
            raise TypeError(f"freeze({name!r}, policy): the policy must act with act_batch() and not learn, "
                            f"got {type(policy).__name__}")
        frozen.obs_shape, frozen.obs_dtype = learner.obs_shape, learner.obs_dtype
        frozen.stats = self.policies[name].stats if name in self._frozen else frozen.stats
        if name not in self._frozen:
            self._forget_pending(name, forget=True)
        self._frozen[name] = why
        self.policies[name] = frozen  # the processors and the lifecycle share this mapping

    def _forget_pending(self, name: str, forget: bool) -> None:
        """Decisions in flight of ``name``'s agents are not learned from (another policy made them, or
        the session stops learning); on freezing, the session drops its per-agent state of them."""
        session = self._learners[name].session
        for agent, tracker in self.life.known.values():
            if agent.policy == name:
                tracker.decision_obs = None if tracker.waiting else tracker.decision_obs
                if forget and self.learning:
                    session.forget(tracker.key)

    def check_done(self) -> None:
        """``done`` once every learning policy not frozen by hand spent its budget (or ``max_steps`` is
        reached); a plugin whose policies are all frozen by hand is not done."""
        if self.done or not self._learners:
            return
        spent = self.max_steps is not None and self.steps >= self.max_steps
        if not spent:
            states = [self._frozen.get(n) for n in self._learners]
            spent = ("budget" in states and None not in states) or all(e.session.is_done()
                                                                       for e in self._learners.values())
        if spent:
            self.done = True
            esper.dispatch_event(TRAINING_DONE)


@dataclass(frozen=True, slots=True)
class PolicyProgress:
    """Where one learning policy stands: ``state`` is "learning", "frozen" (by hand) or "budget" (spent)."""

    policy: str
    steps: int
    budget: int | None
    state: str
    episodes: int


class _Greedy:
    """A learning agent with no ``to_policy()``, acting greedily through its own ``act_batch``."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.action_space = getattr(agent, "action_space", None)
        self.observation_space = getattr(agent, "observation_space", None)

    def act_batch(self, obs: Any, mode: ActMode, ids: Any, masks: Any = None) -> Any:
        if masks is None:
            return self.agent.act_batch(obs, ActMode.EXPLOIT, ids)
        return self.agent.act_batch(obs, ActMode.EXPLOIT, ids, masks)


def install(policies: Mapping[str, Any], reset: ResetHook | None = None, *, evaluation: Evaluation | None = None,
            priorities: Priorities = Priorities(), on_end: str = "reset", max_steps: int | None = None,
            learning: bool = True) -> Plugin:
    """Install training into the current esper world.

    ``policies`` maps the names used in ``Agent(policy=...)`` to a ``TrainingSession`` (learns), anything
    with ``act_batch`` (a frozen policy: acts greedily), a controller with ``decide(obs, entity)``, or the
    path of an exported policy file (``.npz`` / ``.onnx``, read with ``ecs_rl.inference.load_policy``).
    ``reset(entity, seed)`` is the game's hook that starts a fresh episode on an entity; with
    ``on_end="delete"`` ended entities are deleted instead (the game spawns new ones) and no hook is needed.
    Each session stops learning at its own ``with_max_steps`` budget; ``max_steps`` caps all of them together.

    ``learning=False`` installs inference only, for a shipped game: every policy acts greedily, nothing
    learns, no run directory is written; episodes are counted in ``plugin.policies[name].stats``. With
    exported files it runs on numpy and esper alone (torch need not be installed).

    Args:
        policies: policy name -> ``TrainingSession``, frozen policy (``act_batch``), controller
            (``decide(obs, entity)``) or exported policy file path.
        reset: the game's reset hook ``reset(entity, seed)``, called by the reset processor on each entity
            whose episode ended; it puts a fresh state and ``Observation`` on the entity.
        evaluation: periodic greedy evaluation in a world of its own (``Evaluation(factory, every, episodes)``).
        priorities: where the plugin's processors sit (``Priorities()``: decide 100, record -100, episode -200,
            reset -300); the game's processors go between decide and record.
        on_end: ``"reset"`` (call ``reset``) or ``"delete"`` (delete ended entities; the game spawns new ones).
        max_steps: a budget for all learning policies together (each session also has its own).
        learning: False for inference only.

    Returns:
        The installed ``Plugin`` (``plugin.done``, ``plugin.freeze(name)``, ``plugin.uninstall()``, ...).
    """
    return Plugin(policies, reset, evaluation=evaluation, priorities=priorities, learning=learning, on_end=on_end,
                  max_steps=max_steps).install()


def _exported(name: str, policy: Any) -> Any:
    """A policy given as the path of an exported file, loaded; anything else as it is."""
    if not isinstance(policy, (str, os.PathLike)):
        return policy
    from ..inference import PolicyFileError, load_policy

    try:
        return load_policy(policy)
    except PolicyFileError as exc:
        raise PolicyFileError(f"policy {name!r}: {exc}") from None


class _TickCounter(esper.Processor):
    """Counts the ticks of the world it is in (added last, so a tick counts once every processor ran)."""

    def __init__(self) -> None:
        self.ticks = 0

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.ticks += 1


def run_episodes(factory: WorldFactory, policies: Mapping[str, Any], episodes: int, *, seed: int | None,
                 reset: ResetHook | None = None, evaluate: list[str] | None = None, max_ticks: int = 10_000,
                 ticks: int | None = None, dt: float = 1 / 60, priorities: Priorities = Priorities(),
                 world: str | None = None,
                 drive: Callable[[Callable[[], bool]], None] | None = None) -> dict[str, EvalResult]:
    """Play episodes without learning in a world of their own: the one episode runner of ecs-rl.

    Builds ``factory(episodes, seed)`` in a fresh esper world (``world``, default a unique name; an
    existing world is refused), installs ``policies`` there (sessions and frozen policies act
    greedily, controllers as they do). Entities whose episode ended are deleted. Two modes:

    - ``ticks=None`` (episodes): scores the first episode of each agent entity the factory built (the
      first ``episodes`` per policy in ``evaluate``, default all policies; entities the game spawns
      later play along but are not scored, so short episodes are not favoured). It stops when every
      scored episode ended or after ``max_ticks`` ticks; episodes still running then are recorded as
      truncated with extra ``unfinished`` = 1.
    - ``ticks=T``: runs exactly ``T`` ticks and scores every episode of the evaluated policies that
      ends in them (newborns' too), then the ones still running as unfinished; see ``EvalResult.rates``.

    ``drive(stop)`` may step the world itself (a window); by default it runs headless. The world is
    deleted after.

    Args:
        factory: ``factory(episodes, seed)`` builds the agent entities in the current (fresh) esper world.
        policies: policy name -> session, frozen policy or controller.
        episodes: episodes to score per evaluated policy.
        seed: the factory's base seed.
        reset: the game's reset hook (None: ended entities are only deleted).
        evaluate: the policies to score (default: all).
        max_ticks: the tick limit in episodes mode.
        ticks: run exactly this many ticks instead (ticks mode).
        dt: the time step passed to ``esper.process``.
        priorities: where the plugin's processors sit.
        world: the esper world's name (default: a unique one).
        drive: ``drive(stop)`` steps the world itself (a window).

    Returns:
        ``{policy: EvalResult}`` for the evaluated policies.
    """
    names = list(policies) if evaluate is None else list(evaluate)
    previous = esper.current_world
    name = world or f"{previous}.episodes{next(_eval_worlds)}"
    if name in esper.list_worlds():
        raise ValueError(f"esper world {name!r} already exists: run_episodes builds and deletes a world of its own")
    if ticks is not None and (isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 1):
        raise ValueError(f"run_episodes(ticks=...) must be an integer >= 1 (or None), got {ticks!r}")
    started = time.perf_counter()
    scored: dict[int, EpisodeRecord] = {}
    window: dict[str, list[EpisodeRecord]] = {n: [] for n in names}  # ticks mode: every end, in order
    esper.switch_world(name)
    try:
        factory(episodes, seed)
        cohort = {n: sorted(e for e, agent in esper.get_component(Agent) if agent.policy == n)[:episodes]
                  for n in names}
        members = {e for entities in cohort.values() for e in entities}
        runner = Plugin(policies, reset, priorities=priorities, learning=False, on_end="delete").install()

        def score(event: EpisodeEnd) -> None:
            record = EpisodeRecord(event.total_reward, event.length, event.status, event.extras)
            if ticks is not None:
                if event.policy in window:
                    window[event.policy].append(record)
            elif event.entity in members and event.entity not in scored:
                scored[event.entity] = record

        runner.on_episode_end(score)

        counter = _TickCounter()  # the ticks the world ran, whoever steps it (``drive`` too)
        esper.add_processor(counter, priority=-2**62)
        limit = max_ticks if ticks is None else ticks

        def finished() -> bool:  # the tick limit, or every scored episode ended (or its entity vanished first)
            if counter.ticks >= limit:
                return True
            if ticks is not None:
                return False
            return len(scored) == len(members) or all(e in scored or not esper.entity_exists(e) for e in members)

        if drive is None:
            while not finished():
                esper.process(dt)
        else:
            drive(finished)
        ran = counter.ticks
        if ticks is not None:  # the episodes still running in the window's last tick
            for _, (agent, tracker) in runner.life.known.items():
                if agent.policy in window and tracker.length > 0 and not tracker.needs_reset:
                    window[agent.policy].append(EpisodeRecord(tracker.total_reward, tracker.length,
                                                              EpisodeStatus.TRUNCATED, {"unfinished": 1.0}))
        for entity in members - scored.keys():  # still running (or never started)
            _, tracker = runner.life.known.get(entity, (None, None))
            if tracker is not None and ticks is None:
                scored[entity] = EpisodeRecord(tracker.total_reward, tracker.length, EpisodeStatus.TRUNCATED,
                                               {"unfinished": 1.0})
    finally:
        esper.switch_world(previous)
        esper.delete_world(name)
    seconds = time.perf_counter() - started
    if ticks is not None:
        return {n: EvalResult(n, window[n], seed=seed, ticks=ran, seconds=seconds, mode="ticks") for n in names}
    return {n: EvalResult(n, [scored[e] for e in cohort[n] if e in scored], seed=seed, ticks=ran, seconds=seconds)
            for n in names}
