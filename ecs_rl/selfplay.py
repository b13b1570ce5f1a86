"""Self-play: two learning policies train against each other's past selves, and every self gets an Elo rating.

The design is Unity ML-Agents' ghost trainer, for two asymmetric policies (Hunt's prey and predators) that
both keep learning (no swapping of the learning side):

- **Snapshots.** Every ``snapshot_every`` steps of a learning policy its weights are saved with the agent's
  own checkpoint code (read back with ``torch.load(weights_only=True)``) as
  ``<run>/snapshots/<policy>-<step>.pt``, listed with their ratings in ``<run>/snapshots/index.json``. The
  first snapshot is the policy as self-play starts (untrained, for a new run).
- **Ghosts.** About ``ghost_share`` of each team's agents are ghosts (policy ``"<policy>.ghost"``, a
  ``SnapshotOpponent``): when a ghost's episode starts it draws a snapshot of its team and plays it
  greedily for the whole episode: the latest snapshot with probability ``latest_prob``, otherwise one drawn
  uniformly from the last ``window``. The other agents are driven by the learning session, so each learner
  trains against a mix of the opposing team's current policy and its past selves. A new agent entity of a
  team becomes a ghost when fewer than ``ghost_share`` of its team's agents are ghosts.
- **Ratings.** The game reports results as ``MATCH_RESULT`` events (``MatchResult``: winner
  and loser entities); each updates the Elo ratings (``ecs_rl.core.ratings``) of the two selves that
  played: a team's current policy, or the snapshot a ghost plays. A new snapshot starts from the current
  rating, as in ML-Agents.
- **Logs and resume.** Each learner episode's extras carry the current rating (``rating`` in
  ``train_episodes.jsonl``, for games whose agents have an ``EpisodeInfo``). The index holds every rating,
  the settings and the draw RNG; it is written atomically at each snapshot, every ``save_seconds`` and when
  training stops, and a resumed run goes on from it with the same ratings.

``ecs-rl train hunt --self-play`` wires this into the Hunt game (see ``for_training``).
"""

from __future__ import annotations

import inspect
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import esper
import numpy as np

from .core.files import atomic_target, atomic_write_json
from .core.ratings import K_FACTOR, Rating, play
from .core.run import RunError, TrainingRun
from .core.session import TrainingSession
from .core.types import ActMode
from .ecs.components import Agent, Done, EpisodeInfo
from .ecs.events import MATCH_RESULT, EpisodeEnd, MatchResult

SNAPSHOTS_DIR = "snapshots"
INDEX = "index.json"
GHOST = ".ghost"  # a team's ghost agents play under the policy name "<policy>.ghost"


class SelfPlayError(RunError):
    """A self-play setting, snapshot index or snapshot is wrong; the message names the file or setting."""


@dataclass(frozen=True)
class SelfPlayConfig:
    """Self-play settings (ML-Agents' names in brackets)."""

    snapshot_every: int | None = None  # steps of a policy between snapshots [save_steps]; None: its budget / 10
    latest_prob: float = 0.5  # a ghost plays the latest snapshot this often [play_against_latest_model_ratio]
    window: int = 10  # otherwise one of the last ``window`` snapshots, uniformly [window]
    ghost_share: float = 0.5  # of each team's agents play a past self
    k: float = K_FACTOR  # Elo K-factor [initial_elo 1200, K 16]
    seed: int = 0  # the ghosts' draws
    save_seconds: float = 30.0  # the index is written at least this often while ratings change

    def __post_init__(self) -> None:
        def whole(name: str, minimum: int, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise SelfPlayError(f"self-play {name} must be a whole number >= {minimum}, got {value!r}")

        def number(name: str, lo: float, hi: float, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise SelfPlayError(f"self-play {name} must be a number in [{lo}, {hi}], got {value!r}")

        if self.snapshot_every is not None:
            whole("snapshot_every", 1, self.snapshot_every)
        number("latest_prob", 0.0, 1.0, self.latest_prob)
        whole("window", 1, self.window)
        number("ghost_share", 0.0, 0.9, self.ghost_share)
        number("k", 0.0, 1000.0, self.k)
        whole("seed", 0, self.seed)
        number("save_seconds", 0.0, math.inf, self.save_seconds)


@dataclass(slots=True)
class Snapshot:
    """One saved past self: the policy's weights at ``step`` (``file`` in the snapshots directory) and its rating."""

    policy: str
    step: int
    file: str
    rating: Rating

    @property
    def name(self) -> str:
        """``<policy>-<step>``."""
        return f"{self.policy}-{self.step}"


def _load_greedy(path: Path) -> Any:
    from .algorithms import CheckpointError, GreedyPolicy

    try:
        return GreedyPolicy.load(path)
    except CheckpointError as exc:
        raise SelfPlayError(str(exc)) from None


class SnapshotPool:
    """One policy's snapshots and ratings, kept in ``<run>/snapshots/`` (files and ``index.json``).

    Args:
        directory: the snapshots directory.
        policy: the policy whose snapshots these are.
        load: loads a snapshot file as a greedy policy.
    """

    def __init__(self, directory: Path, policy: str, load: Callable[[Path], Any] = _load_greedy) -> None:
        self.directory = Path(directory)
        self.policy = policy
        self.load = load
        self.current = Rating()  # the learning policy's own rating
        self.snapshots: list[Snapshot] = []
        self.settings: dict[str, Any] = {}
        self.rng_state: dict[str, Any] | None = None
        self.results = 0
        self._policies: dict[str, Any] = {}

    @property
    def index_path(self) -> Path:
        """``snapshots/index.json``: the snapshots, their ratings and the settings."""
        return self.directory / INDEX

    @classmethod
    def open(cls, run: TrainingRun | Path, policy: str, load: Callable[[Path], Any] = _load_greedy) -> "SnapshotPool":
        """The pool of ``policy`` in a run directory: read from its index if there is one, else empty.

        Args:
            run: the run (or its directory).
            policy: the policy.
            load: loads a snapshot file as a greedy policy.
        """
        path = run.path if isinstance(run, TrainingRun) else Path(run)
        pool = cls(path / SNAPSHOTS_DIR, policy, load)
        if pool.index_path.exists():
            pool._read()
        return pool

    def checkpoint_index(self, step: int) -> Path:
        """The index as it stood when the policy's session saved its checkpoint of ``step``."""
        return self.directory / f"index@{int(step)}.json"

    def _read(self, path: Path | None = None) -> None:
        path = path or self.index_path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SelfPlayError(f"{path}: not a readable JSON snapshot index ({exc})") from None
        if not isinstance(data, dict) or data.get("policy") != self.policy:
            raise SelfPlayError(f"{path}: not the snapshot index of policy {self.policy!r}")
        try:
            self.current = Rating(**data["current"])
            self.snapshots = []
            for row in data["snapshots"]:
                file, step = row["file"], row["step"]
                if not isinstance(file, str) or Path(file).name != file or not file.endswith(".pt"):
                    raise ValueError(f"snapshot file must be a .pt name in {self.directory}, got {file!r}")
                if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                    raise ValueError(f"snapshot step must be a whole number >= 0, got {step!r}")
                self.snapshots.append(Snapshot(self.policy, step, file, Rating(row["rating"], row["games"])))
            self.settings = dict(data.get("settings") or {})
            self.rng_state = data.get("rng")
            self.results = int(data.get("results", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise SelfPlayError(f"{path}: corrupt snapshot index ({exc})") from None
        for snap in self.snapshots:
            if not (self.directory / snap.file).is_file():
                raise SelfPlayError(f"{path} lists snapshot {snap.file}, which is missing from {self.directory}")

    def write(self, settings: Mapping[str, Any], rng_state: Mapping[str, Any] | None, path: Path | None = None) -> None:
        """Write the index atomically (ratings, snapshots, settings, draw RNG), to ``path`` or ``index.json``.

        Args:
            settings: the self-play settings to record.
            rng_state: the draw generator's state (None: not recorded).
            path: where to write (default: ``index.json``).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self.settings = dict(settings)
        atomic_write_json(path or self.index_path, {
            "policy": self.policy, "settings": self.settings, "current": self.current.to_json(),
            "results": self.results,
            "snapshots": [{"step": s.step, "file": s.file, **s.rating.to_json()} for s in self.snapshots],
            "rng": rng_state})

    def add(self, agent: Any, step: int) -> Snapshot:
        """Save ``agent``'s weights now as the snapshot of ``step``; it starts at the current rating."""
        self.directory.mkdir(parents=True, exist_ok=True)
        snap = Snapshot(self.policy, int(step), f"{self.policy}-{int(step)}.pt", Rating(self.current.rating))
        path = self.directory / snap.file
        options = {"include_replay": False} if _accepts(agent.save, "include_replay") else {}
        with atomic_target(path) as tmp:
            agent.save(tmp, **options)
        self._policies.pop(snap.file, None)
        self.snapshots = [s for s in self.snapshots if s.step != snap.step] + [snap]
        return snap

    def forget_after(self, step: int) -> list[Snapshot]:
        """Drop snapshots taken after ``step`` (a run resumed from an earlier checkpoint); their files stay."""
        later = [s for s in self.snapshots if s.step > step]
        self.snapshots = [s for s in self.snapshots if s.step <= step]
        return later

    def draw(self, rng: np.random.Generator, latest_prob: float, window: int) -> Snapshot:
        """The latest snapshot with probability ``latest_prob``, else one of the last ``window`` uniformly.

        Args:
            rng: the generator that draws.
            latest_prob: the probability of the latest snapshot.
            window: how many of the last snapshots the uniform draw covers.
        """
        if not self.snapshots:
            raise SelfPlayError(f"policy {self.policy!r} has no snapshot to draw an opponent from")
        if rng.random() < latest_prob:
            return self.snapshots[-1]
        recent = self.snapshots[-window:]
        return recent[int(rng.integers(len(recent)))]

    def policy_of(self, snap: Snapshot) -> Any:
        """The snapshot's greedy policy (loaded from its file once).

        Args:
            snap: the snapshot.
        """
        policy = self._policies.get(snap.file)
        if policy is None:
            policy = self._policies[snap.file] = self.load(self.directory / snap.file)
        return policy

    def first(self) -> Snapshot | None:
        """The oldest snapshot (None before any)."""
        return self.snapshots[0] if self.snapshots else None


def _accepts(method: Any, keyword: str) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return keyword in params


class SnapshotOpponent:
    """Acts for a team's ghost agents: each agent id plays the snapshot drawn for it when first seen, until
    ``forget`` (its episode ended). One greedy forward pass per snapshot in play.

    Args:
        pool: the team's snapshots.
        rng: draws each agent's snapshot.
        latest_prob: the probability of drawing the latest snapshot.
        window: otherwise, one of the last ``window`` snapshots uniformly.
        observation_space: the ghosts' observation space.
        action_space: the ghosts' action space.
    """

    def __init__(self, pool: SnapshotPool, rng: np.random.Generator, latest_prob: float, window: int,
                 observation_space: Any = None, action_space: Any = None) -> None:
        self.pool = pool
        self.rng = rng
        self.latest_prob = latest_prob
        self.window = window
        self.observation_space = observation_space
        self.action_space = action_space
        self.assigned: dict[int, Snapshot] = {}
        self.draws = 0

    def snapshot_for(self, key: int) -> Snapshot:
        """The snapshot an agent plays: drawn when the agent is first seen, kept until ``forget``.

        Args:
            key: the agent id.
        """
        snap = self.assigned.get(key)
        if snap is None:
            snap = self.assigned[key] = self.pool.draw(self.rng, self.latest_prob, self.window)
            self.draws += 1
        return snap

    def forget(self, key: int) -> None:
        """Drop an agent's snapshot (its episode ended): its next episode draws again.

        Args:
            key: the agent id.
        """
        self.assigned.pop(key, None)

    def act_batch(self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLOIT,
                  agent_ids: Sequence[int] | None = None) -> np.ndarray:
        """Greedy actions of each row's snapshot, one forward pass per snapshot in play.

        Args:
            obs_batch: observations stacked on the first axis.
            mode: ignored: snapshots play greedily.
            agent_ids: the agent of each row (default ``0..n-1``), which picks its snapshot.
        """
        ids = list(range(len(obs_batch))) if agent_ids is None else list(agent_ids)
        groups: dict[str, tuple[Snapshot, list[int]]] = {}
        for row, key in enumerate(ids):
            snap = self.snapshot_for(int(key))
            groups.setdefault(snap.file, (snap, []))[1].append(row)
        out: np.ndarray | None = None
        for snap, rows in groups.values():
            actions = np.asarray(self.pool.policy_of(snap).act_batch(obs_batch[rows], ActMode.EXPLOIT))
            if out is None:
                out = np.empty((len(ids), *actions.shape[1:]), dtype=actions.dtype)
            out[rows] = actions
        return out if out is not None else np.empty(0, dtype=np.int64)


class _SelfPlayProcessor(esper.Processor):
    """After the game's processors, before the plugin's record processor: new agents join a side, snapshots
    are taken when due, ending learner episodes get the current rating, the index is saved now and then."""

    def __init__(self, selfplay: "SelfPlay") -> None:
        self.selfplay = selfplay

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.selfplay.tick()


class SelfPlay:
    """Self-play of two learning policies (``sessions``, each with its ``runs`` directory); see the module
    docstring. ``ghosts()`` goes into the plugin's policies, ``attach(plugin)`` starts it in the plugin's world,
    and ``close()`` (or leaving a ``with`` block) writes the indexes.

    Args:
        sessions: the two learning policies' sessions, by policy name.
        runs: their run directories (snapshots go in ``<run>/snapshots/``).
        config: snapshot interval, ghost share and draw settings (default: ``SelfPlayConfig()``).
        load: loads a snapshot file as a greedy policy.
    """

    def __init__(self, sessions: Mapping[str, TrainingSession], runs: Mapping[str, TrainingRun],
                 config: SelfPlayConfig | None = None, load: Callable[[Path], Any] = _load_greedy) -> None:
        if len(sessions) != 2 or set(sessions) != set(runs):
            raise SelfPlayError(f"self-play needs two learning policies, each with its run; got policies "
                                f"{', '.join(sessions) or 'none'} and runs for {', '.join(runs) or 'none'}")
        self.sessions = dict(sessions)
        self.runs = dict(runs)
        self.pools = {p: SnapshotPool.open(runs[p], p, load) for p in sessions}
        for p, session in sessions.items():  # resumed: the ratings as of the checkpoint the session restarts from
            at = self.pools[p].checkpoint_index(session.total_steps)
            if session.total_steps > 0 and at.is_file():
                self.pools[p]._read(at)
            session.on_checkpoint(lambda step, p=p: self._checkpointed(p, step))
        stored = next((pool.settings for pool in self.pools.values() if pool.settings), None)
        if config is None:
            known = {f.name for f in fields(SelfPlayConfig)}
            config = SelfPlayConfig(**{k: v for k, v in (stored or {}).items() if k in known})
        self.config = config
        self.every = {}  # a resumed run keeps its period, even with a larger budget
        for p, session in sessions.items():
            stored_every = self.pools[p].settings.get("every")
            if isinstance(stored_every, int) and not isinstance(stored_every, bool) and stored_every >= 1:
                self.every[p] = stored_every
            else:
                self.every[p] = config.snapshot_every or max(1, (session.max_steps or 100_000) // 10)
        self.ghost_names = {p: p + GHOST for p in sessions}
        self.team_of = {g: p for p, g in self.ghost_names.items()}
        self.opponents: dict[str, SnapshotOpponent] = {}
        for k, (p, session) in enumerate(sessions.items()):
            rng = np.random.default_rng([config.seed, k])
            state = self.pools[p].rng_state
            if state is not None:
                try:
                    rng.bit_generator.state = state
                except (TypeError, ValueError, KeyError) as exc:
                    raise SelfPlayError(f"{self.pools[p].index_path}: bad rng state ({exc})") from None
            agent = session.agent
            self.opponents[p] = SnapshotOpponent(self.pools[p], rng, config.latest_prob, config.window,
                                                 getattr(agent, "observation_space", None),
                                                 getattr(agent, "action_space", None))
        self.members = {p: (set(), set()) for p in sessions}  # (learner entities, ghost entities)
        self.next_snapshot: dict[str, int] = {}
        self.notes: list[str] = []
        self.plugin: Any = None
        self._handler = lambda event: self.on_result(event)  # held here: esper keeps handlers weakly
        self._dirty = False
        self._last_write = time.monotonic()

    # -- setting up -----------------------------------------------------------------------------

    def ghosts(self) -> dict[str, SnapshotOpponent]:
        """The ghost controllers, by policy name, to install beside the sessions."""
        return {self.ghost_names[p]: opponent for p, opponent in self.opponents.items()}

    def attach(self, plugin: Any) -> "SelfPlay":
        """Start in ``plugin``'s world (the current one): take first snapshots, split each team's agents, follow
        results. Call before the world's first tick."""
        missing = [g for g in self.ghost_names.values() if g not in plugin.policies]
        if missing:
            raise SelfPlayError(f"the plugin lacks the ghost policies {', '.join(missing)}: install it with "
                                "{**sessions, **selfplay.ghosts()}")
        if esper.current_world != plugin.world:
            raise SelfPlayError(f"attach self-play in the plugin's world {plugin.world!r}, "
                                f"not {esper.current_world!r}")
        self.plugin = plugin
        for p, session in self.sessions.items():
            pool, step, every = self.pools[p], session.total_steps, self.every[p]
            later = pool.forget_after(step)
            if later:
                self.notes.append(f"{p}: snapshots after step {step:,} dropped from the index (the run resumed "
                                  f"from step {step:,}): {', '.join(s.file for s in later)}")
            if not pool.snapshots:
                pool.add(session.agent, step)
            self.next_snapshot[p] = (step // every + 1) * every
        self._join_new()
        esper.add_processor(_SelfPlayProcessor(self), priority=plugin.priorities.record + 1)
        esper.set_handler(MATCH_RESULT, self._handler)
        plugin.on_episode_end(self._episode_end)
        self.write()
        return self

    # -- every tick -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Per tick: assign new agents to learner or ghost, take due snapshots, note ended episodes."""
        self._join_new()
        self._snapshots_due()
        for entity, (agent, done) in esper.get_components(Agent, Done):
            if (done.terminated or done.truncated) and agent.policy in self.pools:
                info = esper.try_component(entity, EpisodeInfo)
                if info is not None:
                    info.extras["rating"] = self.pools[agent.policy].current.rating
        if self._dirty and time.monotonic() - self._last_write >= self.config.save_seconds:
            self.write()

    def _snapshots_due(self) -> None:
        taken = False
        for p, session in self.sessions.items():
            if session.total_steps >= self.next_snapshot[p]:
                self.pools[p].add(session.agent, session.total_steps)
                self.next_snapshot[p] = (session.total_steps // self.every[p] + 1) * self.every[p]
                taken = True
        if taken:
            self.write()

    def _join_new(self) -> None:
        """New agents of a team become ghosts while fewer than ``ghost_share`` of the team's agents are."""
        share = self.config.ghost_share
        pruned = False
        for entity, agent in esper.get_component(Agent):
            team = agent.policy
            if team not in self.members:
                continue
            learners, ghosts = self.members[team]
            if entity in learners:
                continue
            if not pruned:  # an arrival: forget the members that left
                for ls, gs in self.members.values():
                    ls.intersection_update(e for e in list(ls) if esper.entity_exists(e))
                    gs.intersection_update(e for e in list(gs) if esper.entity_exists(e))
                pruned = True
            if len(ghosts) + 1 <= share * (len(learners) + len(ghosts) + 1):
                agent.policy = self.ghost_names[team]
                ghosts.add(entity)
            else:
                learners.add(entity)

    def _self_of(self, entity: int) -> Rating | None:
        """The rating of the self that drives ``entity`` (None: not an agent of a self-play team)."""
        agent = esper.try_component(entity, Agent)
        if agent is None:
            return None
        pool = self.pools.get(agent.policy)
        if pool is not None:
            return pool.current
        team = self.team_of.get(agent.policy)
        if team is None:
            return None
        return self.opponents[team].snapshot_for(entity if agent.agent_id is None else int(agent.agent_id)).rating

    def on_result(self, event: MatchResult) -> None:
        """A result the game reported: update the ratings of the two selves that played.

        Args:
            event: the ``MatchResult`` (winner and loser entities).
        """
        winner, loser = self._self_of(event.winner), self._self_of(event.loser)
        if winner is None or loser is None or winner is loser:
            return
        play(winner, loser, self.config.k, event.draw)
        for pool in self.pools.values():
            if winner is pool.current or loser is pool.current:
                pool.results += 1
        self._dirty = True

    def _episode_end(self, event: EpisodeEnd) -> None:
        team = self.team_of.get(event.policy)
        if team is not None:
            self.opponents[team].forget(event.agent_id)  # its next episode draws again

    # -- saving and reading -----------------------------------------------------------------------

    def write(self) -> None:
        """Write both indexes now."""
        settings = {**asdict(self.config)}
        for p, pool in self.pools.items():
            pool.write({**settings, "every": self.every[p]}, self.opponents[p].rng.bit_generator.state)
        self._dirty = False
        self._last_write = time.monotonic()

    def _checkpointed(self, p: str, step: int) -> None:
        """Session ``p`` saved a checkpoint of ``step``: keep its pool's index as of now beside it, and drop the
        copies of checkpoints the run no longer has (the newest is kept: it goes with ``latest``)."""
        pool = self.pools[p]
        pool.write({**asdict(self.config), "every": self.every[p]}, self.opponents[p].rng.bit_generator.state,
                   pool.checkpoint_index(step))
        run = self.runs[p]
        for old in pool.directory.glob("index@*.json"):
            k = old.stem.partition("@")[2]
            if k.isdigit() and int(k) != step and not run.checkpoint_path(int(k)).exists():
                old.unlink(missing_ok=True)

    def close(self) -> None:
        """Take the snapshots due (a budget reached on the last tick) and write the indexes."""
        if self.plugin is not None:
            self._snapshots_due()
            self.write()

    def __enter__(self) -> "SelfPlay":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def summary(self) -> str:
        """One line per policy: its current rating, its first and latest snapshots' ratings."""
        lines = []
        for p, pool in self.pools.items():
            first, last = pool.first(), pool.snapshots[-1] if pool.snapshots else None
            line = f"{p}: rating {pool.current.rating:.0f} ({pool.results:,} rated results)"
            if first is not None and last is not None:
                line += (f"; snapshots {len(pool.snapshots)}, first ({first.name}) {first.rating.rating:.0f}, "
                         f"latest ({last.name}) {last.rating.rating:.0f}")
            lines.append(line)
        return "self-play ratings (Elo): " + "; ".join(lines)


def for_training(sessions: Mapping[str, TrainingSession], runs: Mapping[str, TrainingRun],
                 requested: bool) -> SelfPlay | None:
    """``ecs-rl train <game> --self-play``: self-play of the team runs, also when resuming runs that had it
    (they hold a snapshot index); None otherwise.

    Args:
        sessions: the team sessions, by policy.
        runs: their runs.
        requested: whether ``--self-play`` was given.
    """
    had = any((run.path / SNAPSHOTS_DIR / INDEX).exists() for run in runs.values())
    return SelfPlay(sessions, runs) if requested or had else None


def read_index(run: TrainingRun | Path) -> dict[str, Any]:
    """A run's snapshot index as written (for plots and reports); a run without self-play raises."""
    path = (run.path if isinstance(run, TrainingRun) else Path(run)) / SNAPSHOTS_DIR / INDEX
    if not path.is_file():
        raise SelfPlayError(f"{path.parent.parent} has no self-play snapshots (no {SNAPSHOTS_DIR}/{INDEX})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SelfPlayError(f"{path}: not a readable JSON snapshot index ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("snapshots"), list):
        raise SelfPlayError(f"{path}: corrupt snapshot index")
    return data


__all__ = ["SelfPlay", "SelfPlayConfig", "SelfPlayError", "Snapshot", "SnapshotOpponent", "SnapshotPool",
           "for_training", "read_index"]
