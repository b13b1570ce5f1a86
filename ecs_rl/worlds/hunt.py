"""Hunt: prey and predators learn against each other in one arena, with scripted hawks among them.

Three teams share a square arena, each agent moving one step per tick (stay / up / down / left / right):

- **prey** (learning policy ``"prey"``): a pellet is +1; being caught by a predator or a hawk is -1 and
  *terminates* the prey: its entity is deleted and a new prey entity spawns elsewhere a few ticks later
  (at once if it was the last of its team).
- **predators** (learning policy ``"predator"``, faster than prey, decide every ``PREDATOR_PERIOD`` ticks):
  a catch is +1 and resets their hunger; ``STARVE_TICKS`` ticks without a catch is -1 and terminates them
  (deleted, a new predator spawns later).
- **hawks** (``"hawk"``, a :class:`~ecs_rl.ecs.ScriptedController` running :func:`hawk_chase`): slow, they
  fly at the nearest prey and re-aim every ``HAWK_PERIOD`` ticks; they never die.

There is no global time limit (the world runs for ever, as games do); an agent's episode is truncated after
``MAX_AGE`` ticks of life so that episodes stay finite. Observations are a few offsets to the nearest things
(scaled by ``VIEW`` and clipped to [-1, 1]) plus the agent's own position in the arena, scaled to [-1, 1]:

- prey (10): the two nearest pellets, the nearest predator, the nearest hawk, own position;
- predator (9): the two nearest prey, the nearest other predator, own position, hunger (ticks / STARVE_TICKS);
- hawk (2): the nearest prey.

A missing thing (no other predator in the world) reads as an offset of (1, 1). ``build(..., human="prey")``
lets a person play one prey (or predator) and each of its replacements, under the policy ``HUMAN_POLICY``.
Per tick the world is computed with numpy over all agents at once; the :class:`Hunt` singleton keeps the
arena's RNG, the respawn queue and a scoreboard (team rewards, agent-ticks, catches, pellets, starvations).

Results (for ratings, see :mod:`ecs_rl.selfplay`): a predator that comes within ``CHASE_RADIUS`` of a prey
starts a chase. The world dispatches a :class:`~ecs_rl.ecs.MatchResult` event (``MATCH_RESULT``) when a
predator catches a prey (``kind="catch"``: the predator wins; chased before or not) and when a chased prey gets
farther than ``ESCAPE_RADIUS`` from its chaser (``kind="escape"``: the prey wins). A chase that ends otherwise
(a hawk or another predator takes the prey, the predator starves, an episode is truncated) has no result.
Chases are followed only while the world has a ``MATCH_RESULT`` handler (they cost a little time per tick).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import esper
import gymnasium as gym
import numpy as np

from ..ecs.components import Action, Done, EpisodeInfo, Observation, Reward, agent_components
from ..ecs.events import MATCH_RESULT, MatchResult
from ..games import Game, preset_from
from ..ecs.controllers import ScriptedController
from ..ecs.plugin import install
from ..ecs.runner import step_world

VIEW = 10.0  # offsets are divided by this (and clipped), so the policy does not depend on the arena's size
AREA_PER_AGENT = 100.0 / 24  # the arena grows with the agent count: 24 agents share a 10 x 10 arena
PREY_SPEED, PREDATOR_SPEED, HAWK_SPEED = 0.3, 0.33, 0.2  # predators outrun prey; hawks do not
EAT_RADIUS, CATCH_RADIUS = 0.5, 0.5
CHASE_RADIUS, ESCAPE_RADIUS = 1.5, 3.0  # a predator this close starts a chase; the prey wins it this far away
STARVE_TICKS = 150  # a predator without a catch for this long starves
MAX_AGE = 1_000  # any learning agent's episode is truncated after this many ticks of life
RESPAWN_TICKS = {"prey": 10, "predator": 10}  # except the last of a team: it is replaced at once
SAFE_SPAWN = 2.5  # new prey appear at least this far from every predator and hawk (when they can)
PREDATOR_PERIOD = 2  # predators commit to a move for two ticks
HAWK_PERIOD = 4
PELLETS_PER_PREY = 1.5
SHARES = {"prey": 0.5, "predator": 0.375, "hawk": 0.125}  # of the n agents build() places
MOVES = np.array([(0.0, 0.0), (0.0, 1.0), (0.0, -1.0), (-1.0, 0.0), (1.0, 0.0)])

LEARNING_TEAMS = ("prey", "predator")
HUMAN_POLICY = "human"  # build(..., human="prey") gives one prey (and each of its replacements) this policy
TEAMS = ("prey", "predator", "hawk")
action_space = gym.spaces.Discrete(5)
prey_observation_space = gym.spaces.Box(-1.0, 1.0, shape=(10,), dtype=np.float32)
predator_observation_space = gym.spaces.Box(-1.0, 1.0, shape=(9,), dtype=np.float32)
hawk_observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
observation_spaces = {"prey": prey_observation_space, "predator": predator_observation_space,
                      "hawk": hawk_observation_space}


@dataclass(slots=True)
class Prey:
    x: float
    y: float
    age: int = 0


@dataclass(slots=True)
class Predator:
    x: float
    y: float
    age: int = 0
    hunger: int = 0


@dataclass(slots=True)
class Hawk:
    x: float
    y: float


@dataclass(slots=True)
class Pellet:
    x: float
    y: float


@dataclass(slots=True)
class Hunt:
    """One per world: arena size, RNG, tick, respawn queue, decision periods and the scoreboard."""

    side: float
    rng: np.random.Generator
    predator_period: int = PREDATOR_PERIOD
    hawk_period: int = HAWK_PERIOD
    human_team: str | None = None  # a person plays one agent of this team (policy HUMAN_POLICY)
    human_entity: int | None = None  # the person's current agent (None while it waits to respawn)
    tick: int = 0
    respawns: list[tuple[int, str]] = field(default_factory=list)  # (due tick, team)
    reward: dict[str, float] = field(default_factory=lambda: {"prey": 0.0, "predator": 0.0})
    agent_ticks: dict[str, int] = field(default_factory=lambda: {"prey": 0, "predator": 0})
    counts: dict[str, int] = field(default_factory=lambda: {
        "pellets": 0, "caught_by_predators": 0, "caught_by_hawks": 0, "starved": 0, "prey_spawned": 0,
        "predators_spawned": 0, "escapes": 0})
    chases: set[tuple[int, int]] = field(default_factory=set)  # (prey entity, predator entity) under way

    def reward_rate(self, team: str, per: int = 100) -> float:
        """Mean reward of one ``team`` agent per ``per`` ticks of life, over the world's run so far."""
        ticks = self.agent_ticks[team]
        return per * self.reward[team] / ticks if ticks else float("nan")


def hawk_chase(observation: np.ndarray, entity: int) -> int:
    """The hawks' script: step along the larger axis of the offset to the nearest prey."""
    dx, dy = float(observation[0]), float(observation[1])
    if dx == 0.0 and dy == 0.0:
        return 0
    if abs(dx) >= abs(dy):
        return 4 if dx > 0 else 3
    return 1 if dy > 0 else 2


def controllers() -> dict[str, ScriptedController]:
    """The non-learning controllers the world needs beside the two learning policies."""
    return {"hawk": ScriptedController(hawk_chase, action_space)}


# -- observations ---------------------------------------------------------------------------------

def _sq_distances(origin: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x offsets, y offsets and squared distances (n, m) from each origin to each target."""
    dx = targets[None, :, 0] - origin[:, None, 0]
    dy = targets[None, :, 1] - origin[:, None, 1]
    return dx, dy, dx * dx + dy * dy


def _nearest(origin: np.ndarray, targets: np.ndarray, k: int, exclude_self: bool = False) -> np.ndarray:
    """Offsets (n, 2k) from each origin to its k nearest targets, nearest first; (VIEW, VIEW) if missing."""
    n = len(origin)
    out = np.full((n, 2 * k), VIEW)
    available = len(targets) - (1 if exclude_self else 0)
    if n == 0 or available <= 0:
        return out
    dx, dy, d2 = _sq_distances(origin, targets)
    if exclude_self:  # observers and targets are the same agents, the targets possibly a prefix of them
        np.fill_diagonal(d2, np.inf)
    rows = np.arange(n)
    for j in range(min(k, available)):  # k is 1 or 2: repeated argmin beats a sort
        best = d2.argmin(axis=1)
        out[:, 2 * j], out[:, 2 * j + 1] = dx[rows, best], dy[rows, best]
        if j + 1 < k:
            d2[rows, best] = np.inf
    return out


def _observations(side: float, seen: dict[str, np.ndarray], live: dict[str, int], pellets: np.ndarray,
                  hunger: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observations of every prey (n, 10), predator (m, 9) and hawk (h, 2), computed together.

    ``seen[team]`` holds the positions of the agents to observe, the live ones first: only the first
    ``live[team]`` of them are seen by others (an agent that just died still gets its final observation)."""
    prey, predators, hawks = seen["prey"], seen["predator"], seen["hawk"]
    targets = {team: seen[team][:live[team]] for team in TEAMS}
    prey_obs = np.concatenate([_nearest(prey, pellets, 2) / VIEW, _nearest(prey, targets["predator"], 1) / VIEW,
                               _nearest(prey, targets["hawk"], 1) / VIEW, prey / side * 2 - 1], axis=1)
    predator_obs = np.concatenate([_nearest(predators, targets["prey"], 2) / VIEW,
                                   _nearest(predators, targets["predator"], 1, exclude_self=True) / VIEW,
                                   predators / side * 2 - 1, (hunger / STARVE_TICKS)[:, None]], axis=1)
    hawk_obs = _nearest(hawks, targets["prey"], 1) / VIEW
    return tuple(np.clip(o, -1.0, 1.0).astype(np.float32) for o in (prey_obs, predator_obs, hawk_obs))


def _positions(rows: list) -> np.ndarray:
    return np.array([(c[0].x, c[0].y) for _, c in rows], dtype=np.float64).reshape(len(rows), 2)


def _live(rows: list) -> list:
    """Rows whose episode has not ended (the last component of each row is ``Done``)."""
    return [(e, c) for e, c in rows if not (c[-1].terminated or c[-1].truncated)]


# -- the processor --------------------------------------------------------------------------------

BODIES = {"prey": Prey, "predator": Predator, "hawk": Hawk}


class HuntProcessor(esper.Processor):
    """One tick: move everyone, eat, catch, starve, age; spawn due replacements; write observations."""

    def process(self, *args: Any, **kwargs: Any) -> None:
        hunts = esper.get_component(Hunt)
        if not hunts:
            return
        hunt = hunts[0][1]
        hunt.tick += 1
        prey = _live(esper.get_components(Prey, Action, Observation, Reward, Done))
        predators = _live(esper.get_components(Predator, Action, Observation, Reward, Done))
        hawks = esper.get_components(Hawk, Action, Observation, Reward, Done)
        prey_xy = self._move(prey, PREY_SPEED, hunt.side)
        predator_xy = self._move(predators, PREDATOR_SPEED, hunt.side)
        hawk_xy = self._move(hawks, HAWK_SPEED, hunt.side)
        prey_reward = np.zeros(len(prey))
        predator_reward = np.zeros(len(predators))
        pellet_rows = esper.get_component(Pellet)
        pellet_xy = np.array([(p.x, p.y) for _, p in pellet_rows]).reshape(len(pellet_rows), 2)

        # each pellet within reach goes to its nearest prey and reappears elsewhere
        if len(prey) and len(pellet_xy):
            d2 = _sq_distances(prey_xy, pellet_xy)[2]
            eater = d2.argmin(axis=0)
            for j in np.flatnonzero(d2[eater, np.arange(len(pellet_xy))] <= EAT_RADIUS**2):
                prey_reward[eater[j]] += 1.0
                hunt.counts["pellets"] += 1
                self._count(prey[eater[j]][0], "pellets")
                pellet = pellet_rows[j][1]
                pellet.x, pellet.y = hunt.rng.uniform(0.0, hunt.side, size=2)
                pellet_xy[j] = (pellet.x, pellet.y)

        # a prey within reach of a predator or a hawk is caught by the nearest of them
        caught = np.zeros(len(prey), dtype=bool)
        catcher = np.zeros(len(prey), dtype=np.int64)
        if len(prey) and (len(predator_xy) or len(hawk_xy)):
            hunters = np.concatenate([predator_xy, hawk_xy])
            d2 = _sq_distances(prey_xy, hunters)[2]  # (prey, hunters)
            catcher = d2.argmin(axis=1)
            caught = d2[np.arange(len(prey)), catcher] <= CATCH_RADIUS**2
            for i in np.flatnonzero(caught):
                prey_reward[i] -= 1.0
                if catcher[i] < len(predators):
                    predator_reward[catcher[i]] += 1.0
                    self._count(predators[catcher[i]][0], "catches")
                    hunt.counts["caught_by_predators"] += 1
                else:
                    hunt.counts["caught_by_hawks"] += 1

        _report_chases(hunt, prey, predators, prey_xy, predator_xy, caught, catcher)

        for k, (entity, (p, _, _, reward, done)) in enumerate(prey):
            p.age += 1
            reward.value += prey_reward[k]
            if caught[k]:
                done.terminated = True
                hunt.respawns.append((hunt.tick + RESPAWN_TICKS["prey"], "prey"))
            elif p.age >= MAX_AGE:
                done.truncated = True
                hunt.respawns.append((hunt.tick + 1, "prey"))
        for k, (entity, (p, _, _, reward, done)) in enumerate(predators):
            p.age += 1
            p.hunger = 0 if predator_reward[k] > 0 else p.hunger + 1
            if p.hunger >= STARVE_TICKS:
                predator_reward[k] -= 1.0
                done.terminated = True
                hunt.counts["starved"] += 1
                hunt.respawns.append((hunt.tick + RESPAWN_TICKS["predator"], "predator"))
            elif p.age >= MAX_AGE:
                done.truncated = True
                hunt.respawns.append((hunt.tick + 1, "predator"))
            reward.value += predator_reward[k]
        if hunt.human_entity is not None:
            done = esper.try_component(hunt.human_entity, Done)
            if done is None or done.terminated or done.truncated:
                hunt.human_entity = None  # the person's next agent is the next one of its team to spawn
        hunt.reward["prey"] += float(prey_reward.sum())
        hunt.reward["predator"] += float(predator_reward.sum())
        hunt.agent_ticks["prey"] += len(prey)
        hunt.agent_ticks["predator"] += len(predators)

        # every agent of this tick is observed (one that just died gets its true final observation); those
        # still alive come first, and only they are seen by the others
        watchers, live = {"hawk": [(c[0], c[2]) for _, c in hawks]}, {"hawk": len(hawks)}
        for team, rows in (("prey", prey), ("predator", predators)):
            ended = [(c[4].terminated or c[4].truncated) for _, c in rows]
            watchers[team] = [(c[0], c[2]) for k, (_, c) in enumerate(rows) if not ended[k]]
            live[team] = len(watchers[team])
            watchers[team] += [(c[0], c[2]) for k, (_, c) in enumerate(rows) if ended[k]]
        for team in LEARNING_TEAMS:  # a team is never empty: its first replacement comes at once
            if live[team] == 0 and hunt.respawns:
                waiting = [k for k, (_, t) in enumerate(hunt.respawns) if t == team]
                if waiting:
                    hunt.respawns[waiting[0]] = (hunt.tick, team)
        due = [team for tick, team in hunt.respawns if tick <= hunt.tick]
        if due:
            hunt.respawns = [(tick, team) for tick, team in hunt.respawns if tick > hunt.tick]
            hunters = np.concatenate([predator_xy, hawk_xy])
            for team in due:
                entity = _spawn(hunt, team, hunters)
                watchers[team].insert(live[team], (esper.component_for_entity(entity, BODIES[team]),
                                                   esper.component_for_entity(entity, Observation)))
                live[team] += 1
        _write_observations(hunt, watchers, live, pellet_xy)

    @staticmethod
    def _move(rows: list, speed: float, side: float) -> np.ndarray:
        xy = _positions(rows)
        if not rows:
            return xy
        actions = np.array([0 if c[1].value is None else int(c[1].value) for _, c in rows])
        xy = np.clip(xy + MOVES[actions] * speed, 0.0, side)
        for k, (_, comps) in enumerate(rows):
            comps[0].x, comps[0].y = xy[k]
        return xy

    @staticmethod
    def _count(entity: int, name: str) -> None:
        info = esper.try_component(entity, EpisodeInfo)
        if info is not None:
            info.extras[name] = info.extras.get(name, 0.0) + 1.0


def _report_chases(hunt: Hunt, prey: list, predators: list, prey_xy: np.ndarray, predator_xy: np.ndarray,
                   caught: np.ndarray, catcher: np.ndarray) -> None:
    """Follow the chases between live prey and predators and dispatch each result (see the module docstring);
    only while the world has a ``MATCH_RESULT`` handler (esper keeps handlers per world)."""
    if MATCH_RESULT not in esper.event_registry:
        hunt.chases.clear()
        return
    results: list[MatchResult] = []
    n = len(predators)
    for i in np.flatnonzero(caught):
        if catcher[i] < n:
            results.append(MatchResult(predators[catcher[i]][0], prey[i][0], kind="catch"))
    if hunt.chases or (len(prey) and n):
        d2 = _sq_distances(prey_xy, predator_xy)[2]
        prey_row = {e: k for k, (e, _) in enumerate(prey)}
        predator_row = {e: k for k, (e, _) in enumerate(predators)}
        chases = set()
        for a, b in hunt.chases:
            i, j = prey_row.get(a), predator_row.get(b)
            if i is None or j is None or caught[i]:  # one of them left, or the prey was caught: over
                continue
            if d2[i, j] > ESCAPE_RADIUS**2:
                results.append(MatchResult(a, b, kind="escape"))
                hunt.counts["escapes"] += 1
            else:
                chases.add((a, b))
        for i, j in np.argwhere(d2 <= CHASE_RADIUS**2):
            if not caught[i]:
                chases.add((prey[i][0], predators[j][0]))
        hunt.chases = chases
    for result in results:
        esper.dispatch_event(MATCH_RESULT, result)


def observe_all() -> None:
    """Write every live agent's observation from the current positions (dead agents keep their last)."""
    hunt = esper.get_component(Hunt)[0][1]
    watchers = {team: [c[:2] for _, c in _live(esper.get_components(BODIES[team], Observation, Done))]
                for team in TEAMS}
    pellets = esper.get_component(Pellet)
    _write_observations(hunt, watchers, {team: len(rows) for team, rows in watchers.items()},
                        np.array([(p.x, p.y) for _, p in pellets]).reshape(len(pellets), 2))


def _write_observations(hunt: Hunt, watchers: dict[str, list[tuple[Any, Observation]]], live: dict[str, int],
                        pellet_xy: np.ndarray) -> None:
    """Observations of the agents given as (body, Observation) pairs per team (the first ``live[team]`` of
    them alive and visible to others), computed together."""
    xy = {team: np.array([(b.x, b.y) for b, _ in rows], dtype=np.float64).reshape(len(rows), 2)
          for team, rows in watchers.items()}
    hunger = np.array([b.hunger for b, _ in watchers["predator"]], dtype=np.float64)
    obs = _observations(hunt.side, xy, live, pellet_xy, hunger)
    for team, batch in zip(TEAMS, obs):
        for k, (_, observation) in enumerate(watchers[team]):
            observation.value = batch[k]


# -- spawning and building ------------------------------------------------------------------------

def _spawn(hunt: Hunt, team: str, hunters: np.ndarray | None = None) -> int:
    """A new agent entity of ``team`` at a random spot (new prey keep clear of ``hunters`` when they can)."""
    x, y = hunt.rng.uniform(0.0, hunt.side, size=2)
    if team == "prey" and hunters is not None and len(hunters):
        for _ in range(20):
            if (np.square(hunters[:, 0] - x) + np.square(hunters[:, 1] - y)).min() >= SAFE_SPAWN**2:
                break
            x, y = hunt.rng.uniform(0.0, hunt.side, size=2)
    if team == "hawk":
        return esper.create_entity(*agent_components("hawk", np.zeros(2, np.float32),
                                                     decision_period=hunt.hawk_period), Hawk(x, y))
    human = team == hunt.human_team and hunt.human_entity is None
    policy = HUMAN_POLICY if human else team
    if team == "prey":
        hunt.counts["prey_spawned"] += 1
        entity = esper.create_entity(*agent_components(policy, np.zeros(10, np.float32)),
                                     EpisodeInfo({"pellets": 0.0}), Prey(x, y))
    elif team == "predator":
        hunt.counts["predators_spawned"] += 1
        entity = esper.create_entity(
            *agent_components(policy, np.zeros(9, np.float32), decision_period=1 if human else hunt.predator_period),
            EpisodeInfo({"catches": 0.0}), Predator(x, y))
    else:
        raise ValueError(f"unknown team {team!r}; teams: {', '.join(TEAMS)}")
    if human:
        hunt.human_entity = entity
    return entity


def team_sizes(n: int) -> dict[str, int]:
    """How ``build`` splits ``n`` agents between the teams (at least one each)."""
    if n < 3:
        raise ValueError(f"n must be >= 3 (one agent per team at least), got {n!r}")
    hawks = max(1, round(n * SHARES["hawk"]))
    predators = max(1, round(n * SHARES["predator"]))
    return {"prey": n - predators - hawks, "predator": predators, "hawk": hawks}


def arena_side(n: int) -> float:
    return math.sqrt(n * AREA_PER_AGENT)


def build(n: int = 24, seed: int | None = 0, *, predator_period: int = PREDATOR_PERIOD,
          hawk_period: int = HAWK_PERIOD, pellets: int | None = None, side: float | None = None,
          human: str | None = None) -> dict[str, list[int]]:
    """An arena for ``n`` agents in the current esper world: half prey, 3/8 predators, 1/8 hawks (see
    :func:`team_sizes`), ``pellets`` pellets (default: ``PELLETS_PER_PREY`` per prey), the processor; the
    arena's ``side`` defaults to :func:`arena_side` (the same density for any ``n``). ``human="prey"`` (or
    ``"predator"``) gives one agent of that team, and each of its replacements, the policy ``HUMAN_POLICY``
    (install a ``HumanController`` under that name). Returns each team's entities."""
    if human not in (None, *LEARNING_TEAMS):
        raise ValueError(f"human must be one of {', '.join(LEARNING_TEAMS)} or None, got {human!r}")
    hunt = Hunt(side=arena_side(n) if side is None else float(side), rng=np.random.default_rng(seed),
                predator_period=predator_period, hawk_period=hawk_period, human_team=human)
    if esper.get_component(Hunt):
        raise RuntimeError(f"esper world {esper.current_world!r} already holds a Hunt arena")
    esper.create_entity(hunt)
    if esper.get_processor(HuntProcessor) is None:
        esper.add_processor(HuntProcessor(), priority=0)
    sizes = team_sizes(n)
    pellets = round(PELLETS_PER_PREY * sizes["prey"]) if pellets is None else pellets
    if pellets < 2:
        raise ValueError(f"pellets must be >= 2 (prey see the two nearest), got {pellets!r}")
    for _ in range(pellets):
        esper.create_entity(Pellet(*hunt.rng.uniform(0.0, hunt.side, size=2)))
    teams = {team: [_spawn(hunt, team) for _ in range(sizes[team])] for team in ("hawk", "predator")}
    hunters = np.array([(c.x, c.y) for t in (Predator, Hawk) for _, c in esper.get_component(t)])
    teams["prey"] = [_spawn(hunt, "prey", hunters) for _ in range(sizes["prey"])]
    hunt.counts["prey_spawned"] = hunt.counts["predators_spawned"] = 0  # count respawns only
    observe_all()
    return teams


def agents_for(per_team: int) -> int:
    """The smallest ``n`` for which :func:`build` gives each learning team at least ``per_team`` agents."""
    n = max(3, per_team)
    while min(team_sizes(n)[team] for team in LEARNING_TEAMS) < per_team:
        n += 1
    return n


def factory(**options: Any):
    """``factory(episodes, seed)`` for ``Evaluation``: an arena in which each learning team has ``episodes``
    agents of its own (an evaluation scores the factory's agents, one episode each)."""
    return lambda episodes, seed: build(agents_for(episodes), seed, **options)


# -- measuring teams ------------------------------------------------------------------------------

_score_worlds = itertools.count()


def install_hunt(policies: Mapping[str, Any], **options: Any):
    """Install the plugin in the current esper world: ``policies`` for prey and predators, the hawks' script
    added, ``on_end="delete"`` (an agent whose episode ended leaves; the game spawns its replacement)."""
    return install({**controllers(), **policies}, on_end="delete", **options)


def score(policies: Mapping[str, Any], n: int = 24, seeds: Sequence[int] = (10_000,), ticks: int = 1_000,
          **options: Any) -> dict[str, float]:
    """Each learning team's reward per agent per 100 ticks of life, with frozen ``policies`` (anything with
    ``act_batch``: a greedy policy, a ``RandomAgent``) over ``ticks`` ticks from each seed, in fresh worlds.

    Over a fixed stretch of time, not per episode: episodes here end by dying, so a per-episode mean taken
    over the first episodes to end would favour the short (failed) ones."""
    totals = {team: 0.0 for team in LEARNING_TEAMS}
    agent_ticks = {team: 0 for team in LEARNING_TEAMS}
    previous = esper.current_world
    for seed in seeds:
        name = f"{previous}.hunt-score{next(_score_worlds)}"
        esper.switch_world(name)
        try:
            build(n, seed, **options)
            step_world(ticks, plugin=install_hunt(policies))
            hunt = esper.get_component(Hunt)[0][1]
            for team in LEARNING_TEAMS:
                totals[team] += hunt.reward[team]
                agent_ticks[team] += hunt.agent_ticks[team]
        finally:
            esper.switch_world(previous)
            esper.delete_world(name)
    return {team: 100 * totals[team] / max(1, agent_ticks[team]) for team in LEARNING_TEAMS}


def make_game() -> Game:
    """Hunt as an ecs-rl game: prey and predators learn at once, one run each (``ecs-rl train hunt``)."""
    return Game(
        name="hunt", title="Hunt",
        policies={team: (observation_spaces[team], action_space) for team in LEARNING_TEAMS},
        build=build, reset=None, factory=factory(), controllers=controllers, draw="ecs_rl.render.hunt:draw_world",
        window=(640, 640), sim_hz=20.0, keys={"up": 1, "down": 2, "left": 3, "right": 4},
        human="prey", human_policy=HUMAN_POLICY,
        presets={"prey/dqn": preset_from("hunt_prey_dqn"), "predator/dqn": preset_from("hunt_predator_dqn")},
        # both budgets run out after about 5 500 ticks with 24 agents: 12 prey decide every tick, 9 predators
        # every second tick (and the dead wait to respawn)
        envs=24, default_steps=50_000, policy_steps={"predator": 25_000}, eval_freq=12_500, eval_episodes=16,
        eval_max_ticks=2_000, scorer=score, score_worlds=4,
        score_label="greedy reward per agent per 100 ticks of life (1 000 ticks per world)",
    )
