"""The learner: one process, one ``TrainingSession``, fed by worlds in Ray workers.

Each worker (``WorldWorker`` as a Ray actor) claims an agent-id namespace
of the session, as each world does in one process, so two workers' agents never meet. The learner feeds
the workers' chunks to the session through an uninstalled ``Plugin`` (its budget
and its evaluation at exact step counts, in a world of its own), logs their episode ends (``worker`` = k),
and sends weights as numpy arrays through Ray's object store:

- PPO, synchronous: every worker runs ``n_steps`` ticks with the current weights; their chunks are fed
  tick by tick across workers, and at the end of a round the update falls due if every live agent has
  ``n_steps`` transitions (never within a round: with agents that leave and spawn, the rollout reaches
  that count at any row, and an update there would throw the rest of the round away); the new weights
  go out with the next round. Each decision carries the version of the weights that made it: a
  transition decided by weights the policy has since updated (a decision period spanning two rounds)
  is not learned from (counted in ``stale``); its episode is still logged.
- DQN, asynchronous: workers keep stepping, each with ``in_flight`` chunks asked for (2: a worker never
  waits for the learner between two); the learner takes the oldest of whichever worker's is ready, asks
  that worker for another before feeding it (so the world runs while the learner learns), feeds its rows
  as arrays (``Chunk.transitions``: one replay write per tick, no object per row), sends its current
  epsilon with every request and new weights every ``broadcast_every`` steps.

A worker that dies (its process killed) is dropped with a logged warning: its open episodes, as of its
last chunk, end truncated (extra ``worker_lost`` = 1) and the session forgets its agents; training goes
on with the others.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..core.session import TrainingSession
from ..core.types import EpisodeStatus
from ..ecs.evaluation import Evaluation
from ..ecs.plugin import Plugin
from ..games import Game, load_game
from .worker import Chunk, WorldWorker

log = logging.getLogger("ecs_rl.distributed")

STOP_GRACE = 10.0  # seconds the learner waits for chunks in flight once asked to stop
# Ray starts its workers 15 nicer than itself by default (they yield the CPU to anything else on the
# machine); here they are the run's work, so a local Ray started for the run gives them the learner's own
# priority (a cluster joined with ``address`` keeps its own setting)
WORKER_NICENESS = 0


@dataclass
class DistributedResult:
    """What a distributed run did: its bookkeeping plugin (``eval_history``), counts and where the time went.

    ``seconds``: ``wall`` (from the workers' ``start``, which it includes) and ``learner_cpu`` (the learner
    process's CPU time over it); the learner's ``wait`` (for chunks), ``feed`` (learning, logging,
    evaluation) and ``broadcast``; the workers' ``world`` (simulation and plugin), ``act``, ``pack`` and
    ``cpu`` (their CPU time in ``collect``), summed over workers.
    """

    plugin: Plugin
    workers: int
    ticks: int = 0
    transitions: int = 0
    stale: int = 0
    dropped: list[int] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class _Learner:
    def __init__(self, session: TrainingSession, plugin: Plugin, policy: str, ppo: bool) -> None:
        self.session, self.plugin, self.ppo = session, plugin, ppo
        self.entry = plugin.policies[policy]
        self.offsets: dict[int, int] = {}
        self.keys: dict[int, set[int]] = {}
        self.open: dict[int, list[tuple[int, int, float, int]]] = {}
        self.stale = 0
        self.ticks = 0
        self.transitions = 0

    def join(self, k: int) -> None:
        self.offsets[k] = self.session.claim_namespace() * 2**32
        self.keys[k], self.open[k] = set(), []

    def feed(self, k: int, chunk: Chunk, tick: int) -> None:
        """Tick ``tick`` of worker ``k``'s chunk: its transitions and departures in order, then its episode ends."""
        if self.plugin.done:
            return
        session, offset, keys = self.session, self.offsets[k], self.keys[k]
        lo, hi = int(chunk.bounds[tick]), int(chunk.bounds[tick + 1])
        cuts = [(row, key) for t, row, key in chunk.forgets if t == tick] + [(hi, None)]
        row = lo
        for cut, key in cuts:
            if cut > row:
                self._learn(chunk, row, cut, offset, keys)
                row = cut
            if key is not None:
                keys.discard(key)
                session.forget(offset + key)
        self.ticks += 1
        for t, event in chunk.ends:
            if t == tick and not self.plugin.done:
                session.on_episode(event.total_reward, event.length, event.status, event.extras,
                                   agent_id=event.agent_id, entity=event.entity, worker=k)
                self.plugin.check_done()

    def _learn(self, chunk: Chunk, lo: int, hi: int, offset: int, keys: set[int]) -> None:
        keys.update(chunk.keys[lo:hi].tolist())
        self.transitions += hi - lo
        if not self.ppo:  # the rows as arrays: one replay write per stretch (DqnAgent.observe_transitions)
            self.plugin.learn(self.entry, chunk.transitions(lo, hi, offset))
            return
        agent = self.session.agent
        raw, logps, masks, versions = chunk.behaviour
        for j in range(lo, hi):
            if versions[j] != agent.updates:  # decided by weights the policy has since updated: not learned from
                self.stale += 1
                continue
            exp = chunk.experience(j, offset)
            agent.decided(exp.agent_id, exp.obs, raw[j], logps[j], None if masks is None else masks[j])
            self.plugin.learn(self.entry, [exp])

    def drop(self, k: int, why: str) -> None:
        """Worker ``k`` died: its open episodes end truncated, the session forgets its agents."""
        opened = self.open.pop(k, [])
        log.warning("ecs-rl: worker %d died (%s) and is dropped; its %d open episodes end truncated", k, why,
                    len(opened))
        for agent_id, entity, total, length in opened:
            if not self.plugin.done:
                self.session.on_episode(total, length, EpisodeStatus.TRUNCATED, {"worker_lost": 1.0},
                                        agent_id=agent_id, entity=entity, worker=k)
        for key in self.keys.pop(k, set()):
            self.session.forget(self.offsets[k] + key)


def train(game: Game | str, session: TrainingSession, workers: int, *, envs: int | None = None, seed: int = 0,
          evaluation: Evaluation | None = None, address: str | None = None, ticks_per_call: int = 16,
          broadcast_every: int = 1_000, in_flight: int = 2, stop: Callable[[], bool] | None = None,
          progress: bool = False, worker_cpus: float = 1.0, plugin: Plugin | None = None,
          on_start: Callable[[list[Any]], Any] | None = None) -> DistributedResult:
    """Train ``session`` (a DQN or PPO agent for ``game``'s main policy) on worlds in ``workers`` Ray actors.

    Each worker builds ``game`` (a spec string or a game from ``load_game``, which the
    workers load again by its spec) with ``envs`` agents (default: the game's), worker k seeded
    ``seed + k * envs``. ``address``: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``, ...); without
    it, a local Ray is started for the run and shut down after it (one already started by the caller is
    used as is). DQN workers are asked for ``ticks_per_call`` ticks per call, ``in_flight`` calls ahead
    (so a worker acts with an epsilon and weights up to that many chunks old), and get new weights every
    ``broadcast_every`` learner steps; PPO workers run ``n_steps`` ticks per round. Stops when the session's
    budget is spent or ``stop()`` is true. ``plugin``: the learner's bookkeeping plugin (uninstalled), if
    the caller made one (e.g. to read ``eval_history`` while it runs); ``on_start(actors)``: called once the
    workers are up (tests use it to reach a worker's process).

    Args:
        game: a ``Game`` or a game spec string.
        session: the learner's session (DQN or PPO agent, run, budget).
        workers: the number of Ray actors, one world each.
        envs: agents per worker's world.
        seed: worker k's world is seeded ``seed + k * envs``.
        evaluation: greedy evaluation in a world of the learner's own.
        address: a Ray cluster to join.
        ticks_per_call: DQN: ticks per chunk a worker plays. Each chunk has a fixed cost for the worker, Ray
            and the learner, so worlds of hundreds of agents run faster with more (64 in
            ``benchmarks/distributed_throughput.py``); more also means the workers act with older weights,
            which small worlds on short budgets pay for (a 16-agent Foragers run learned far worse with 64).
        broadcast_every: DQN: learner steps between weight broadcasts.
        in_flight: DQN: chunks asked of each worker ahead (epsilon and weights are then up to that many
            chunks old).
        stop: returns True to stop at the next chunk boundary.
        progress: show a progress bar.
        worker_cpus: CPUs Ray reserves per worker.
        plugin: the learner's bookkeeping plugin.
        on_start: called with the actors once they are up.
    """
    try:
        import ray
    except ImportError:
        raise RuntimeError("distributed training needs Ray: pip install 'ecs-rl[ray]'") from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    for name, value in (("ticks_per_call", ticks_per_call), ("broadcast_every", broadcast_every),
                        ("in_flight", in_flight)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    game = load_game(game) if isinstance(game, str) else game
    if not game.spec:
        raise ValueError(f"game {game.name!r} has no spec: workers build their worlds from load_game(spec); pass "
                         "the spec string or a game from load_game")
    agent = session.agent
    algorithm = getattr(agent, "algorithm", None)
    if algorithm not in ("dqn", "ppo"):
        raise ValueError(f"distributed training needs a DqnAgent or PpoAgent session, got {type(agent).__name__}")
    envs = envs or game.envs_for(algorithm)
    policy = game.policy
    if plugin is None:
        plugin = Plugin({**game.extra_controllers(), policy: session}, game.reset, evaluation=evaluation,
                        on_end=game.on_end)
    from ..algorithms.acting import acting_weights

    started_ray = not ray.is_initialized()
    if started_ray:
        kept = _signal_handlers()
        try:
            if address:
                _check_answers(address)
                ray.init(address=address, logging_level=logging.WARNING)
            else:
                # "local": a Ray of the run's own, even where another was started on this machine (`ray start`)
                ray.init(address="local", num_cpus=max(os.cpu_count() or 1, int(workers * worker_cpus + 0.999)),
                         include_dashboard=False, logging_level=logging.WARNING,
                         _system_config={"worker_niceness": WORKER_NICENESS})
        except Exception as exc:  # a wrong address, an unreachable cluster: one line naming it
            where = f"the Ray cluster at {address!r}" if address else "a local Ray"
            raise RuntimeError(f"cannot start or join {where}: {_first_line(exc)}") from None
        finally:
            _restore(kept)  # Ray installs its own SIGTERM handler: the caller's (ecs-rl train: stop at a tick) wins
    learner = _Learner(session, plugin, policy, algorithm == "ppo")
    result = DistributedResult(plugin, workers)
    seconds = dict.fromkeys(("wait", "feed", "broadcast", "world", "act", "pack", "cpu"), 0.0)
    actor_class = ray.remote(WorldWorker).options(num_cpus=worker_cpus, max_restarts=0, scheduling_strategy="SPREAD")
    config = asdict(agent.config)
    actors = {k: actor_class.remote(game.spec, algorithm, config, envs, seed + k * envs, k) for k in range(workers)}
    stop = stop or (lambda: False)
    wall, cpu = time.perf_counter(), time.process_time()
    bar = _progress(session, progress)
    try:
        def arrived(refs: list[Any], n: int) -> list[Any]:
            """The first ``n`` of ``refs`` ready; none if a stop was asked for and they do not come (a Ray
            whose own processes were stopped with the learner's group never answers)."""
            t, asked = time.perf_counter(), None
            try:
                while True:
                    ready, _ = ray.wait(refs, num_returns=n, timeout=1.0)
                    if len(ready) >= n:
                        return ready
                    if stop():
                        asked = asked or time.monotonic()
                        if time.monotonic() - asked > STOP_GRACE:
                            return []
            finally:
                seconds["wait"] += time.perf_counter() - t

        starting = {k: actor.node.remote() for k, actor in actors.items()}
        if not arrived(list(starting.values()), len(starting)):
            actors.clear()  # nothing to stop cleanly: the workers never came up
            result.seconds = dict(seconds, wall=time.perf_counter() - wall)
            return result
        seconds["start"], seconds["wait"] = seconds["wait"], 0.0  # the workers' start, apart from waiting for chunks
        for k, ref in starting.items():
            try:
                result.nodes.append(ray.get(ref))
            except ray.exceptions.RayActorError as exc:
                raise RuntimeError(f"worker {k} could not build game {game.name!r}: {_first_line(exc)}") from None
            learner.join(k)
        if on_start is not None:
            on_start(list(actors.values()))

        def weights() -> Any:  # PPO's weights are tagged with the update count they come from
            t = time.perf_counter()
            ref = ray.put(acting_weights(agent))
            seconds["broadcast"] += time.perf_counter() - t
            return ref

        def received(k: int, ref: Any) -> Chunk | None:
            t = time.perf_counter()
            try:
                chunk = ray.get(ref).writable()
            except ray.exceptions.RayActorError as exc:
                actors.pop(k)
                learner.drop(k, _first_line(exc))
                result.dropped.append(k)
                if not actors:
                    raise RuntimeError("every worker died: nothing left to train on") from None
                return None
            finally:
                seconds["wait"] += time.perf_counter() - t
            for key in ("world", "act", "pack", "cpu"):
                seconds[key] += chunk.seconds.get(key, 0.0)
            learner.open[k] = chunk.open
            return chunk

        if algorithm == "ppo":
            agent.hold_updates = True  # an update falls due between rounds, never cutting one
            ref, version, sent = weights(), agent.updates, {}
            while not plugin.done and not stop():
                calls = {k: a.collect.remote(agent.config.n_steps, ref if sent.get(k) is not ref else None,
                                             None, version) for k, a in actors.items()}
                sent = {k: ref for k in actors}
                if not arrived(list(calls.values()), len(calls)):
                    break
                chunks = {k: c for k, c in ((k, received(k, r)) for k, r in calls.items()) if c is not None}
                t = time.perf_counter()
                for tick in range(max((c.ticks for c in chunks.values()), default=0)):
                    for k, chunk in chunks.items():
                        if tick < chunk.ticks:
                            learner.feed(k, chunk, tick)
                agent.update_if_due()
                seconds["feed"] += time.perf_counter() - t
                if agent.updates != version:
                    ref, version = weights(), agent.updates
                _tick_bar(bar, session, learner)
        else:
            ref, since = weights(), session.total_steps
            sent = {k: ref for k in actors}

            def request(k: int) -> Any:
                new = ref if sent[k] is not ref else None
                sent[k] = ref
                return actors[k].collect.remote(ticks_per_call, new, agent.epsilon)

            # each worker has ``in_flight`` chunks asked for, so it never waits for the learner between two;
            # its chunks are taken in order (the oldest of each worker is waited on)
            calls = {k: deque(request(k) for _ in range(in_flight)) for k in actors}
            while not plugin.done and not stop():
                heads = {queue[0]: k for k, queue in calls.items()}
                ready = arrived(list(heads), 1)
                if not ready:
                    break
                k = heads[ready[0]]
                chunk = received(k, calls[k].popleft())
                if chunk is None:
                    calls.pop(k)
                    continue
                # the worker's next chunk is asked for before this one is fed, so its world runs while the
                # learner learns (its epsilon and weights are then up to ``in_flight`` chunks old)
                calls[k].append(request(k))
                t = time.perf_counter()
                for tick in range(chunk.ticks):
                    learner.feed(k, chunk, tick)
                seconds["feed"] += time.perf_counter() - t
                if session.total_steps - since >= broadcast_every:
                    ref, since = weights(), session.total_steps
                _tick_bar(bar, session, learner)
    finally:
        if algorithm == "ppo":
            agent.hold_updates = False
        if bar is not None:
            bar.close()
        for actor in actors.values():
            ray.kill(actor)
        if started_ray:
            ray.shutdown()
    seconds["wall"], seconds["learner_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
    result.ticks, result.transitions, result.stale = learner.ticks, learner.transitions, learner.stale
    result.seconds = seconds
    return result


def _signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


def _check_answers(address: str, timeout: float = 5.0) -> None:
    """An address ``host:port`` (or ``ray://host:port``) where nothing accepts a connection fails at once:
    ``ray.init`` would retry it for minutes. ``auto`` and other forms are left to Ray."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc.strerror or exc})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _progress(session: TrainingSession, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=session.max_steps, initial=session.total_steps, unit="step", dynamic_ncols=True,
                mininterval=0.5)


def _tick_bar(bar: Any, session: TrainingSession, learner: _Learner) -> None:
    if bar is None:
        return
    bar.update(session.total_steps - bar.n)
    summary = session.stats_summary()
    bar.set_postfix(episodes=session.total_episodes, mean_reward=f"{summary.get('mean_reward', float('nan')):.2f}",
                    workers=len(learner.keys), refresh=False)
