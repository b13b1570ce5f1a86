"""Agent entities coming and going: which ones the plugin knows, the ids their policies see, episode ends.

The contract, one line each:
- an agent entity that appears (any tick) starts an episode;
- ``Done.terminated`` / ``Done.truncated`` end it; the plugin then resets the entity in place (the
  game's reset hook) or, with ``on_end="delete"``, deletes it;
- a game that deletes an agent entity ends its episode: the plugin records that tick's transition
  with the true final observation, as truncated (it left) unless ``Done.terminated`` was set (it
  died; :func:`despawn` does both); ``esper.delete_entity(e, immediate=True)`` in a game processor
  does the same (the plugin keeps the agent's components until its last transition is recorded); an
  entity deleted after the record processor ran closes as truncated with no new transition;
- a respawned entity may reuse an ``Agent.agent_id`` once the old entity is gone, never while it lives;
- agent ids are namespaced by world: each world feeding a session claims a namespace from it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import esper
import numpy as np

from ..core.types import EpisodeStatus, Experience
from .components import AGENT_COMPONENTS, Agent, Done, EpisodeInfo, EpisodeTracker, Reward
from .events import EpisodeEnd
from .policies import ComponentError, PolicyEntry

NAMESPACE = 2**32  # agent ids of one world: [k * NAMESPACE, (k + 1) * NAMESPACE)


class WorldError(RuntimeError):
    """The plugin was driven in an esper world other than the one it was installed in."""


def despawn(entity: int, terminated: bool = False) -> None:
    """End an agent entity's episode now and delete it: ``terminated=True`` says it died, else it left.

    Call it from a game processor (between the plugin's decide and record processors): the final
    transition, with this tick's reward and observation, still reaches the learner.
    """
    done = esper.component_for_entity(entity, Done)
    done.terminated = bool(terminated)
    done.truncated = not terminated
    esper.delete_entity(entity)


class Lifecycle:
    """The plugin's table of agent entities in its world."""

    def __init__(self, policies: Mapping[str, PolicyEntry], learning: bool, on_end: str,
                 reset_hook: Callable[[int, "int | None"], None] | None,
                 dispatch: Callable[[EpisodeEnd], None],
                 learn: Callable[[PolicyEntry, list[Experience]], None] | None = None) -> None:
        self.policies = policies
        self.learning = learning
        self.on_end = on_end
        self.reset_hook = reset_hook
        self.dispatch = dispatch
        self.learn = learn
        self.world: str | None = None
        self.offsets: dict[str, int] = {}
        self.known: dict[int, tuple[Agent, EpisodeTracker]] = {}
        self.parts: dict[int, tuple] = {}  # entity -> its agent components (read after an immediate delete)
        self.in_tick = False  # between the decide and record processors: a deletion now is a step's end
        self.tick_masks: dict[int, Any] | None = None  # this tick's ActionMask values, read at decide
        self.owners: dict[tuple[str, int], int] = {}  # (policy, key) -> the entity using that id
        self.pending_resets: list[int] = []
        self._last_rows: object = None

    def attach(self, world: str) -> None:
        """Bind to ``world``; each learning session gives this world a namespace of agent ids."""
        self.world = world
        self.offsets = {name: (e.session.claim_namespace() * NAMESPACE if self.learning and e.session else 0)
                        for name, e in self.policies.items()}

    def check_world(self) -> None:
        if esper.current_world != self.world:
            raise WorldError(
                f"the ecs-rl plugin installed in esper world {self.world!r} is being run in world "
                f"{esper.current_world!r}: switch back with esper.switch_world({self.world!r}) before "
                "esper.process(), and do not switch worlds inside a processor")

    def entry(self, name: str, entity: int) -> PolicyEntry:
        entry = self.policies.get(name)
        if entry is None:
            raise ComponentError(f"entity {entity}: Agent names unknown policy {name!r}; "
                                 f"known: {', '.join(sorted(self.policies))}")
        return entry

    def rows(self) -> list:
        """The agent entities of this tick; when the set changed, close the departed and admit the new."""
        rows = esper.get_components(*AGENT_COMPONENTS)
        if rows is not self._last_rows:
            self._last_rows = rows
            self._membership(rows)
        return rows

    def _membership(self, rows: list) -> None:
        if len(rows) != len(esper.get_component(Agent)):
            complete = {e for e, _ in rows}
            for entity, _ in esper.get_component(Agent):
                if entity not in complete:
                    missing = [c.__name__ for c in AGENT_COMPONENTS if not esper.has_component(entity, c)]
                    raise ComponentError(f"entity {entity}: has Agent but lacks {', '.join(missing)} "
                                         "(create agents with ecs_rl.ecs.agent_components)")
        present = {e: comps for e, comps in rows}
        for entity, (agent, tracker) in list(self.known.items()):
            comps = present.get(entity)
            # gone, or not the agent we knew: Agent replaced (a team change), or a new entity under a
            # recycled id (esper.clear_database): the old episode closes, the new one starts fresh
            if comps is None or comps[0] is not agent or comps[5] is not tracker:
                self._gone(entity)
        for entity, comps in rows:
            if entity not in self.known:
                self._arrive(entity, comps)

    def _arrive(self, entity: int, comps: tuple) -> None:
        agent, reward, tracker = comps[0], comps[3], comps[5]
        self.entry(agent.policy, entity)
        local = entity if agent.agent_id is None else agent.agent_id
        if isinstance(local, (bool, np.bool_)) or not isinstance(local, (int, np.integer)) \
                or not 0 <= local < NAMESPACE:
            raise ComponentError(f"entity {entity}: Agent.agent_id must be a whole number in [0, 2**32), "
                                 f"got {agent.agent_id!r}")
        key = self.offsets[agent.policy] + int(local)
        owner = self.owners.get((agent.policy, key))
        if owner is not None and owner in self.known and not self._leaving(owner):
            raise ComponentError(
                f"entity {entity}: agent_id {local} of policy {agent.policy!r} is already used by live entity "
                f"{owner}; a respawned entity may reuse an id only once the old entity is deleted")
        self.owners[(agent.policy, key)] = entity
        _fresh(tracker)  # its episode starts now, whatever the components held before (a re-added Agent)
        tracker.key = key
        reward.value = 0.0
        self.known[entity] = (agent, tracker)
        self.parts[entity] = comps

    def _leaving(self, entity: int) -> bool:
        """Deleted, or (with ``on_end="delete"``) its episode ended: its agent id is free for a respawn."""
        if not esper.entity_exists(entity):
            return True
        if self.on_end != "delete":
            return False
        done = esper.component_for_entity(entity, Done)
        return self.known[entity][1].needs_reset or done.terminated or done.truncated

    def _gone(self, entity: int) -> None:
        """A known agent entity left the world (deleted, or lost an agent component)."""
        agent, tracker = self.known.pop(entity)
        parts = self.parts.pop(entity, None)
        key = tracker.key
        if self.owners.get((agent.policy, key)) == entity:
            del self.owners[(agent.policy, key)]
        if tracker.waiting and not tracker.needs_reset and parts is not None and self.in_tick \
                and not esper.entity_exists(entity):
            self._last_step(entity, parts)  # deleted with immediate=True during the tick: its last step counts
        elif tracker.length > 0 and not tracker.needs_reset:  # mid-episode and not yet recorded: truncated
            self.dispatch(EpisodeEnd(entity, agent.policy, self.local_id(entity, agent), EpisodeStatus.TRUNCATED,
                                     tracker.total_reward, tracker.length,
                                     _units({"entity_removed": 1.0}, agent, tracker)))
        entry = self.policies.get(agent.policy)
        if self.learning and entry is not None and entry.session is not None:
            entry.session.forget(key)  # no later transition can be stitched to this actor's

    def _last_step(self, entity: int, parts: tuple) -> None:
        """Record the final step of an agent deleted with ``immediate=True`` mid-decision, from the
        components the plugin still holds: this tick's reward, final observation and ``Done`` (set
        ``Done.terminated`` before deleting to say it died; otherwise it left: truncated)."""
        agent, obs, action, reward, done, tracker = parts
        r = reward.value
        if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, float, np.integer, np.floating)) \
                or not np.isfinite(r):
            raise ComponentError(f"entity {entity}: Reward must be a finite number, got {r!r}")
        r = float(r)
        entry = self.entry(agent.policy, entity)
        k = tracker.ticks_since_decision
        tracker.total_reward += r
        tracker.length += 1
        tracker.decision_reward += r * entry.gamma ** k
        tracker.ticks_since_decision = k + 1
        tracker.waiting = False
        tracker.decisions += 1  # the decision in flight closes here, as the record processor closes one
        status = EpisodeStatus.TERMINATED if done.terminated else EpisodeStatus.TRUNCATED
        if self.learning and self.learn is not None and entry.session is not None and tracker.decision_obs is not None:
            final = entry.stack([obs.value], [entity], " (next)")[0]
            mask = (self.tick_masks or {}).get(entity)  # its ActionMask went with it: the one it decided under
            next_mask = None if mask is None or done.terminated else \
                entry.stack_masks({entity: mask}, [entity], " (next)", [False])[0]
            self.learn(entry, [Experience(tracker.decision_obs, action.value, tracker.decision_reward, final, status,
                                          tracker.key, tracker.ticks_since_decision, next_mask)])
        extras = _units({} if done.terminated else {"entity_removed": 1.0}, agent, tracker)
        self.dispatch(EpisodeEnd(entity, agent.policy, self.local_id(entity, agent), status, tracker.total_reward,
                                 tracker.length, extras))
        tracker.needs_reset = True

    def close_held_if_illegal(self, entity: int, comps: tuple, mask: Any) -> bool:
        """Within a decision period, is the held action illegal under the entity's ``ActionMask`` now? Then
        the decision closes early (a running transition of the ticks so far) and the agent decides again."""
        agent, obs, action, _, done, tracker = comps
        entry = self.entry(agent.policy, entity)
        space = entry.action_space
        if mask is None or entry.per_entity or entry.n_actions is None or done.terminated or done.truncated:
            return False
        index = int(action.value) - int(space.start)
        if type(mask) is not np.ndarray or mask.shape != (entry.n_actions,) or mask[index] or not mask.any():
            return False  # still legal (a malformed or empty mask is refused when the agent decides)
        tracker.waiting = False
        tracker.decisions += 1
        if self.learning and self.learn is not None and entry.session is not None and tracker.decision_obs is not None:
            nxt = entry.stack([obs.value], [entity], " (next)")[0]
            self.learn(entry, [Experience(tracker.decision_obs, action.value, tracker.decision_reward, nxt,
                                          EpisodeStatus.RUNNING, tracker.key, tracker.ticks_since_decision,
                                          mask.astype(bool))])
        return True

    @staticmethod
    def local_id(entity: int, agent: Agent) -> int:
        return entity if agent.agent_id is None else agent.agent_id

    def end_episode(self, entity: int, agent: Agent, tracker: EpisodeTracker, status: EpisodeStatus) -> None:
        info = esper.try_component(entity, EpisodeInfo)
        extras = _units(dict(info.extras) if info is not None else {}, agent, tracker)
        self.dispatch(EpisodeEnd(entity, agent.policy, self.local_id(entity, agent), status, tracker.total_reward,
                                 tracker.length, extras))
        tracker.needs_reset = True
        self.pending_resets.append(entity)

    def reset(self, entity: int, seed: int | None, requested: bool = False) -> None:
        """Start the entity's next episode: the game's reset hook, or (``on_end="delete"``, not a
        ``ResetRequest``) delete it."""
        if self.on_end == "delete" and not requested:
            esper.delete_entity(entity)
            return
        if self.reset_hook is None:
            raise ComponentError(f"entity {entity}: a ResetRequest needs the game's reset hook "
                                 "(install(..., reset=hook))")
        self.reset_hook(entity, seed)
        esper.component_for_entity(entity, Reward).value = 0.0
        done = esper.component_for_entity(entity, Done)
        done.terminated = done.truncated = False
        tracker = esper.component_for_entity(entity, EpisodeTracker)
        episodes = tracker.episodes
        _fresh(tracker)
        tracker.episodes = episodes + 1

    def leave_all(self) -> list[EpisodeEnd]:
        """The plugin leaves its world: live episodes end (returned, truncated), sessions forget their
        agents, and each tracker is left fresh so a later plugin starts clean episodes."""
        ends = []
        for entity, (agent, tracker) in self.known.items():
            if tracker.length > 0 and not tracker.needs_reset:
                ends.append(EpisodeEnd(entity, agent.policy, self.local_id(entity, agent), EpisodeStatus.TRUNCATED,
                                       tracker.total_reward, tracker.length,
                                       _units({"plugin_removed": 1.0}, agent, tracker)))
            entry = self.policies.get(agent.policy)
            if self.learning and entry is not None and entry.session is not None:
                entry.session.forget(tracker.key)
            _fresh(tracker)
        self.known.clear()
        self.parts.clear()
        self.owners.clear()
        self.pending_resets.clear()
        self._last_rows = None
        return ends


def _units(extras: dict[str, float], agent: Agent, tracker: EpisodeTracker) -> dict[str, float]:
    """An episode's length counts world ticks; an agent with a decision period also records its ``decisions``
    (the steps its policy counts) as an extra, so logs and reports can name both."""
    if agent.decision_period != 1:
        extras["decisions"] = float(tracker.decisions)
    return extras


def _fresh(tracker: EpisodeTracker) -> None:
    tracker.total_reward, tracker.length, tracker.decisions = 0.0, 0, 0
    tracker.waiting = tracker.needs_reset = False
    tracker.decision_obs, tracker.decision_reward, tracker.ticks_since_decision = None, 0.0, 0
