"""TrainingSession: a loop-agnostic training coordinator driven purely by incoming data.

Feed it transitions and episode ends from wherever the loop lives (a plain ``for`` loop, the esper
plugin, a Gymnasium env); it forwards them to the agent, keeps statistics, logs to an attached
:class:`TrainingRun`, and saves numbered, ``latest`` and ``best`` checkpoints.
"""

from __future__ import annotations

import inspect
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .agent import LearningAgent
from .files import atomic_copy, atomic_target, atomic_write_json
from .run import RunError, TrainingRun
from .stats import EvalReport, StatsTracker
from .types import ActMode, EpisodeRecord, EpisodeStatus, Experience, Transitions


_EMPTY = {"total_steps": 0, "total_episodes": 0, "train_log_bytes": 0, "eval_log_bytes": 0}
_AGENT_METHODS = ("act", "act_batch", "observe", "episode_extras", "on_episode_start", "save", "load")


def _accepts(method: Any, keyword: str) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return keyword in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _sidecar(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".session.json")


def _whole(value: Any, argument: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class TrainingSession:
    """Wires a :class:`LearningAgent`, an optional :class:`TrainingRun` and a :class:`StatsTracker`.

    >>> session = TrainingSession(agent).with_run(TrainingRun.create("cartpole", "v1")).with_max_steps(50_000)

    Defaults: no step limit, a checkpoint every 10 000 steps (``step_<N>`` and ``latest``) and
    ``latest`` at least every 60 seconds, the newest 3 numbered checkpoints kept, stats = rolling
    mean reward and length over the last 100 episodes (``with_stats`` adds to them). ``metadata.json`` is rewritten at most every
    ``metadata_interval`` seconds, and always at checkpoints, best saves and :meth:`close`.

    The checkpoint is the truth: each one holds, beside the agent, the session's own state (counts,
    best evaluation, the length of each log), passed to ``agent.save(path, session=...)`` and
    returned by ``agent.load(path)``. A resumed run continues from ``latest`` and brings its logs back
    to it (see :meth:`TrainingRun.restore`); :attr:`resume_notes` says what that took.
    """

    def __init__(self, agent: LearningAgent, *, metadata_interval: float = 2.0) -> None:
        missing = [m for m in _AGENT_METHODS if not callable(getattr(agent, m, None))]
        missing += [] if hasattr(agent, "total_steps") else ["total_steps"]
        if missing:
            raise TypeError(f"agent {type(agent).__name__} lacks LearningAgent member(s): {', '.join(missing)}")
        self._agent = agent
        self._run: TrainingRun | None = None
        self._stats = StatsTracker.default()
        self._max_steps: int | None = None
        self._checkpoint_hooks: list[Callable[[int], Any]] = []
        self._checkpoint_freq = 10_000
        self._keep = 3
        self._total_steps = 0
        self._total_episodes = 0
        self._best = -math.inf
        self._metadata_interval = float(metadata_interval)
        self._last_metadata = time.monotonic()
        self._clock_start = time.perf_counter()
        self._clock_steps = 0
        self._namespaces = 0
        self._checkpoint_seconds: float | None = 60.0
        self._last_checkpoint = time.monotonic()
        self._save_takes_session = _accepts(agent.save, "session")
        self._save_takes_replay = _accepts(agent.save, "include_replay")
        self.resume_notes: list[str] = []
        self._checkpoint_step: int | None = None  # the step of the newest latest this session saved or loaded
        self._opening: tuple[TrainingRun, dict[str, Any] | None, list[str]] | None = None
        self._loggers: list[Any] = []

    # -- builder ------------------------------------------------------------------------------

    def with_run(self, run: TrainingRun) -> "TrainingSession":
        """Attach a run for logs and checkpoints, and take its writer lock (one process per run).

        A resumed run loads ``latest``: the agent and this session's counts come from that one file,
        and the run's logs are cut back to it. With no ``latest`` yet, it starts from step 0 with
        empty logs. Agents that keep per-actor state of the world that died are told to drop it
        (``agent.forget_all()``, if the agent has one). Raises ``RunError`` (nothing changed on disk)
        if the run is locked by another process, read-only, or its checkpoint does not load.
        """
        return self.open_run(run).finish_run()

    def open_run(self, run: TrainingRun) -> "TrainingSession":
        """The first half of :meth:`with_run`: lock the run and load its checkpoint, writing nothing
        else. Sessions resuming together (several policies) open all their runs before any finishes,
        so a broken partner leaves every run as it was."""
        run.acquire_lock()
        try:
            state = None
            notes: list[str] = []
            if run.resumed:
                kept_best = run.metadata.get("best_eval_reward")  # best.pt saved after the checkpoint survives
                if run.latest_path.exists():
                    state = self._load(run.latest_path, notes)
                else:
                    notes.append(f"no checkpoint in {run.path} yet: starting from step 0 with empty logs")
                run.check_restore(state)
                if state is not None and "total_steps" not in state:  # an older checkpoint: counts from metadata
                    state = {"total_steps": run.metadata["total_steps"],
                             "total_episodes": run.metadata["total_episodes"],
                             "best_eval_reward": run.metadata.get("best_eval_reward")}
                best = (state or {}).get("best_eval_reward")
                if run.best_path.exists() and kept_best is not None and (best is None or kept_best > best):
                    best = kept_best
                state = {**(state if state is not None else _EMPTY), "best_eval_reward": best}
        except BaseException:
            run.release_lock(undo=True)
            raise
        self._opening = (run, state, notes)
        return self

    def finish_run(self) -> "TrainingSession":
        """The second half of :meth:`with_run`: bring the run's logs and metadata back to the checkpoint."""
        run, state, notes = self._opening
        try:
            run.mark_lock_holder()
            if state is not None:
                notes = run.restore(state) + notes
                self._total_steps = int(state.get("total_steps", 0))
                self._total_episodes = int(state.get("total_episodes", 0))
                best = state.get("best_eval_reward")
                self._best = float(best) if best is not None else -math.inf
                self._checkpoint_step = self._total_steps if run.latest_path.exists() else None
                forget_all = getattr(self._agent, "forget_all", None)
                if run.latest_path.exists() and callable(forget_all):
                    forget_all()
        except BaseException:
            run.release_lock(undo=True)
            raise
        if self._run is not None and self._run is not run:
            self._run.release_lock()
        self._opening = None
        self._run = run
        self.resume_notes = notes
        if run.resumed:
            self._replay_log_into_stats()
            self._restart_clock()
        self._last_checkpoint = time.monotonic()
        return self

    def with_max_steps(self, n: int) -> "TrainingSession":
        """``is_done()`` turns true once ``total_steps >= n``. Default: no limit."""
        self._max_steps = _whole(n, "max_steps", 0)
        return self

    def with_checkpoint_freq(self, freq: int) -> "TrainingSession":
        """Save ``step_<N>`` and ``latest`` every ``freq`` steps. Default: 10 000."""
        self._checkpoint_freq = _whole(freq, "checkpoint_freq", 1)
        return self

    def with_checkpoint_seconds(self, seconds: float | None) -> "TrainingSession":
        """Also save ``latest`` once ``seconds`` have passed since the last save (whichever comes first
        with the step milestones); ``None`` turns the clock off. Default: 60 s."""
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.number))
                                    or not math.isfinite(seconds) or seconds <= 0):
            raise ValueError(f"checkpoint_seconds must be a number > 0 (or None), got {seconds!r}")
        self._checkpoint_seconds = None if seconds is None else float(seconds)
        return self

    def with_keep_checkpoints(self, keep: int) -> "TrainingSession":
        """Numbered checkpoints to keep on disk (``latest``/``best`` are never pruned). Default: 3."""
        self._keep = _whole(keep, "keep_checkpoints", 0)
        return self

    def with_stats(self, stats: StatsTracker, *, defaults: bool = True) -> "TrainingSession":
        """Track ``stats`` beside the default ``mean_reward`` and ``mean_length`` (added to ``stats`` first,
        unless it names them itself); ``defaults=False`` tracks only ``stats``. A resumed run's logged
        episodes are replayed into it."""
        if not isinstance(stats, StatsTracker):
            raise ValueError(f"stats must be a StatsTracker, got {type(stats).__name__}")
        if defaults:
            stats.include(StatsTracker.default(), first=True)
        self._stats = stats
        if self._run is not None and self._run.resumed:
            self._replay_log_into_stats()
        return self

    def with_logger(self, logger: Any) -> "TrainingSession":
        """Also hand every episode to ``logger`` (e.g. :class:`~ecs_rl.core.tensorboard.TensorBoardLogger`):
        ``log_episode(record, step, episode)``, ``log_eval_episode(record, step)``, ``log_eval_mean(mean, step)``
        once per evaluation, and ``close()`` when the session closes."""
        missing = [m for m in ("log_episode", "log_eval_episode", "log_eval_mean", "close")
                   if not callable(getattr(logger, m, None))]
        if missing:
            raise TypeError(f"logger {type(logger).__name__} lacks method(s): {', '.join(missing)}")
        self._loggers.append(logger)
        return self

    # -- acting and observing -----------------------------------------------------------------

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLORE, agent_id: int = 0, mask: np.ndarray | None = None) -> Any:
        """The agent's action for one observation (``mask``: bool array of legal actions, None = all legal)."""
        if mask is None:
            return self._agent.act(obs, mode, agent_id)
        return self._agent.act(obs, mode, agent_id, mask)

    def act_batch(
        self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLORE, agent_ids: Sequence[int] | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """Actions for a stacked batch of observations, in one call (one forward pass for torch agents);
        ``masks``: an ``(n, n_actions)`` bool array of legal actions (None = all legal)."""
        if masks is None:
            return self._agent.act_batch(obs_batch, mode, agent_ids)
        return self._agent.act_batch(obs_batch, mode, agent_ids, masks)

    def observe(self, experience: Experience) -> None:
        """Record a transition; on a step milestone save ``step_<N>`` and ``latest`` and prune."""
        reward = experience.reward
        if not isinstance(reward, (int, float, np.number)) or not math.isfinite(reward):
            raise ValueError(f"reward of agent {experience.agent_id} must be a finite number, got {reward!r}")
        self._agent.observe(experience)
        self._counted(1)

    def _counted(self, n: int) -> None:
        """``n`` more transitions observed: on a step milestone save ``step_<N>`` and ``latest`` and prune,
        or ``latest`` when ``checkpoint_seconds`` passed."""
        self._total_steps += n
        if self._run is not None:
            if self._total_steps % self._checkpoint_freq == 0:
                self.save_checkpoint()
            elif (self._checkpoint_seconds is not None
                  and time.monotonic() - self._last_checkpoint >= self._checkpoint_seconds):
                self.save_latest()

    def observe_batch(self, experiences: "Sequence[Experience] | Transitions") -> None:
        """``observe`` each transition in order; an agent with ``observe_batch`` takes them in one call per
        stretch between checkpoint milestones (a milestone saves the state of exactly that step).

        ``experiences`` may be a :class:`Transitions` batch (rows as arrays, the plugin's per-tick form): an
        agent with ``observe_transitions`` takes the arrays as they are, any other agent the rows as
        :class:`Experience` objects."""
        if isinstance(experiences, Transitions):
            arrays = getattr(self._agent, "observe_transitions", None)
            if not callable(arrays):
                experiences = experiences.experiences()
            else:
                bad = ~np.isfinite(experiences.rewards)
                if bad.any():
                    row = int(np.flatnonzero(bad)[0])
                    raise ValueError(f"reward of agent {int(experiences.agent_ids[row])} must be a finite number, "
                                     f"got {experiences.rewards[row]!r}")
                self._in_chunks(experiences, arrays)
                return
        batch = getattr(self._agent, "observe_batch", None)
        if not callable(batch):
            for experience in experiences:
                self.observe(experience)
            return
        for experience in experiences:
            reward = experience.reward
            if not isinstance(reward, (int, float, np.number)) or not math.isfinite(reward):
                raise ValueError(f"reward of agent {experience.agent_id} must be a finite number, got {reward!r}")
        self._in_chunks(experiences, batch)

    def _in_chunks(self, rows: Any, take: Callable[[Any], Any]) -> None:
        """``take`` the rows in order, one call per stretch between checkpoint milestones."""
        i, n = 0, len(rows)
        while i < n:
            k = min(n - i, self._checkpoint_freq - self._total_steps % self._checkpoint_freq) \
                if self._run is not None else n - i
            take(rows[i:i + k])
            self._counted(k)
            i += k

    def forget(self, agent_id: int) -> None:
        """An actor is gone (entity deleted): agents that keep per-actor state drop it (optional hook)."""
        forget = getattr(self._agent, "forget", None)
        if callable(forget):
            forget(agent_id)

    def claim_namespace(self) -> int:
        """A fresh agent-id namespace for one world feeding this session.

        Each esper world the plugin is installed in claims one, so two worlds' entity ids never meet
        in the agent: namespace k passes agent id ``k * 2**32 + local id`` (the first world: the ids
        unchanged).
        """
        k = self._namespaces
        self._namespaces += 1
        return k

    def on_episode_start(self) -> None:
        """Signal a new episode (resets the agent's per-episode aggregators)."""
        self._agent.on_episode_start()

    def on_episode(
        self,
        total_reward: float,
        length: int,
        status: EpisodeStatus = EpisodeStatus.TERMINATED,
        env_extras: Mapping[str, float] | None = None,
        **log_fields: Any,
    ) -> EpisodeRecord:
        """Record an episode end: merge env and agent extras, update stats, log, reset agent aggregators.

        ``log_fields`` (e.g. ``agent_id=3``) are written into the JSONL line beside the record.
        """
        extras = dict(env_extras or {})
        extras.update(self._agent.episode_extras())
        try:
            record = EpisodeRecord(total_reward, length, status, extras)
        except ValueError as exc:
            who = f" of agent {log_fields['agent_id']}" if "agent_id" in log_fields else ""
            raise ValueError(f"episode{who} at step {self._total_steps}: {exc}") from None
        if self._run is not None:  # logged first: a failed write leaves the count equal to the log's lines
            self._run.log_train_episode(record, self._total_steps, self._total_episodes + 1, **log_fields)
        self._total_episodes += 1
        self._stats.update(record)
        for logger in self._loggers:
            logger.log_episode(record, self._total_steps, self._total_episodes)
        if self._run is not None:
            self._write_metadata(force=False)
        self._agent.on_episode_start()
        return record

    # -- evaluation and checkpoints -----------------------------------------------------------

    def on_eval_episode(self, record: EpisodeRecord, **log_fields: Any) -> None:
        """Log an evaluation episode, tagged with the current step count."""
        if self._run is not None:
            self._run.log_eval_episode(record, self._total_steps, **log_fields)
        for logger in self._loggers:
            logger.log_eval_episode(record, self._total_steps)

    def maybe_save_best(self, mean_reward: float) -> bool:
        """Save ``best`` if ``mean_reward`` beats every earlier one; return whether it did."""
        if not isinstance(mean_reward, (int, float, np.number)) or not math.isfinite(mean_reward):
            raise ValueError(f"mean_reward must be a finite number, got {mean_reward!r}")
        for logger in self._loggers:  # called once per evaluation, with its mean
            logger.log_eval_mean(float(mean_reward), self._total_steps)
        if mean_reward <= self._best:
            return False
        self._best = float(mean_reward)
        if self._run is not None:
            self._save_agent(self._run.best_path, resume_point=False)
            self._write_metadata(force=True)
        return True

    def save_checkpoint(self) -> None:
        """Save ``step_<total_steps>`` and ``latest`` now, prune old numbered ones, write metadata."""
        run = self._require_run("save_checkpoint")
        path = run.checkpoint_path(self._total_steps)
        if self._save_takes_replay:  # latest keeps what a numbered checkpoint leaves out (DQN's replay)
            self._save_agent(path, resume_point=False)
            self.save_latest()
        else:
            self._save_agent(path, resume_point=True)
            if not self._save_takes_session:
                atomic_copy(_sidecar(path), _sidecar(run.latest_path))
            atomic_copy(path, run.latest_path)
            self._checkpoint_saved()
        run.prune_checkpoints(self._keep)

    def save_latest(self) -> None:
        """Save ``latest`` (the resume point: agent and session state in one file) and the metadata now."""
        run = self._require_run("save_latest")
        self._save_agent(run.latest_path, resume_point=True)
        self._checkpoint_saved()

    def close(self) -> None:
        """Save ``latest`` and the metadata, close the loggers and release the run's lock (call when training
        stops)."""
        loggers, self._loggers = self._loggers, []
        try:
            if self._run is None or not self._run.locked:
                return
            try:
                self.save_latest()
            finally:
                self._run.release_lock()
        finally:
            for logger in loggers:
                logger.close()

    def __enter__(self) -> "TrainingSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    @property
    def agent(self) -> LearningAgent:
        return self._agent

    @property
    def run(self) -> TrainingRun | None:
        return self._run

    @property
    def stats(self) -> StatsTracker:
        return self._stats

    @property
    def total_steps(self) -> int:
        """Environment steps observed, including those of earlier sessions on a resumed run."""
        return self._total_steps

    @property
    def total_episodes(self) -> int:
        return self._total_episodes

    @property
    def max_steps(self) -> int | None:
        return self._max_steps

    @property
    def checkpoint_freq(self) -> int:
        return self._checkpoint_freq

    @property
    def checkpoint_seconds(self) -> float | None:
        return self._checkpoint_seconds

    @property
    def keep_checkpoints(self) -> int:
        return self._keep

    @property
    def best_eval_reward(self) -> float:
        """Best mean passed to :meth:`maybe_save_best` so far (``-inf`` before any)."""
        return self._best

    @property
    def steps_per_sec(self) -> float:
        """Steps per wall-clock second since this session object started (or resumed)."""
        elapsed = time.perf_counter() - self._clock_start
        return (self._total_steps - self._clock_steps) / elapsed if elapsed > 0 else 0.0

    def is_done(self) -> bool:
        return self._max_steps is not None and self._total_steps >= self._max_steps

    def stats_summary(self) -> dict[str, float]:
        return self._stats.summary()

    def eval_report(self, n_episodes: int, title: str = "Training report") -> EvalReport:
        info = {"steps/sec": f"{self.steps_per_sec:,.0f}"}
        if math.isfinite(self._best):
            info["best eval reward"] = f"{self._best:.3f}"
        if self._run is not None:
            info["run"] = str(self._run.path)
        return EvalReport(n_episodes, self.stats_summary(), self._total_steps, self._total_episodes, title, info)

    def into_agent(self) -> LearningAgent:
        """Close the session (saving ``latest`` if a run is attached) and hand back the agent."""
        self.close()
        return self._agent

    # -- internals ----------------------------------------------------------------------------

    def _require_run(self, what: str) -> TrainingRun:
        if self._run is None:
            raise RuntimeError(f"{what} needs a run: attach one with with_run(TrainingRun.create(...))")
        return self._run

    def session_state(self) -> dict[str, Any]:
        """What a checkpoint stores beside the agent: counts, best evaluation and the logs' lengths."""
        state: dict[str, Any] = {
            "total_steps": self._total_steps,
            "total_episodes": self._total_episodes,
            "best_eval_reward": self._best if math.isfinite(self._best) else None,
        }
        if self._run is not None:
            state.update(self._run.log_sizes())
        return state

    def _save_agent(self, path: Path, resume_point: bool) -> None:
        state = self.session_state()
        kwargs: dict[str, Any] = {}
        if self._save_takes_session:
            kwargs["session"] = state
        if resume_point and self._save_takes_replay:
            kwargs["include_replay"] = True
        with atomic_target(path) as tmp:
            self._agent.save(tmp, **kwargs)
            if not self._save_takes_session:  # beside the file, written before the file appears
                atomic_write_json(_sidecar(path), {**state, "agent_steps": int(self._agent.total_steps)})

    def _load(self, path: Path, notes: list[str]) -> dict[str, Any] | None:
        """Load the agent from ``path`` and return the session state stored with it (``{}`` if none)."""
        try:
            state = self._agent.load(path)
        except (OSError, ValueError, RuntimeError) as exc:
            raise RunError(str(exc).splitlines()[0] if str(exc) else f"checkpoint {path} does not load") from None
        if not self._save_takes_session:
            sidecar = _sidecar(path)
            if not sidecar.exists():
                return {}
            state = json.loads(sidecar.read_text(encoding="utf-8"))
            if int(state.pop("agent_steps", -1)) != int(self._agent.total_steps):  # a crash between two renames
                notes.append(f"{sidecar} was written for another step than {path}: counts from metadata.json")
                return {}
        if state is not None and not isinstance(state, dict):
            raise RunError(f"checkpoint {path} holds a session state that is not a mapping")
        return dict(state) if state is not None else {}

    def on_checkpoint(self, fn: Callable[[int], Any]) -> Callable[[int], Any]:
        """Call ``fn(step)`` after every checkpoint this session saves (``latest`` or ``step_<N>``): state kept
        beside the run (self-play ratings, say) can be saved as of the step a resume would restart from."""
        self._checkpoint_hooks.append(fn)
        return fn

    def _checkpoint_saved(self) -> None:
        self._last_checkpoint = time.monotonic()
        self._checkpoint_step = self._total_steps
        self._write_metadata(force=True)
        for fn in self._checkpoint_hooks:
            fn(self._total_steps)

    def _write_metadata(self, force: bool) -> None:
        now = time.monotonic()
        if self._run is None or (not force and now - self._last_metadata < self._metadata_interval):
            return
        best = self._best if math.isfinite(self._best) else None
        self._run.update_metadata(self._total_steps, self._total_episodes, best_eval_reward=best,
                                  checkpoint_step=self._checkpoint_step)
        self._last_metadata = now

    def _replay_log_into_stats(self) -> None:
        assert self._run is not None
        for row in self._run.read_train_episodes():
            self._stats.update(EpisodeRecord.from_json(row))

    def _restart_clock(self) -> None:
        self._clock_start = time.perf_counter()
        self._clock_steps = self._total_steps
