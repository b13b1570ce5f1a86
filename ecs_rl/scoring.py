"""Scoring a policy on a world: ``ecs_rl.evaluate(game, policy, episodes, seed=...)``, the Gymnasium
``evaluate_policy`` of esper worlds, on the one episode runner (``ecs_rl.ecs.plugin.run_episodes``)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .core.agent import RandomAgent
from .ecs.evaluation import EvalResult
from .ecs.plugin import run_episodes
from .games import Game


def evaluate(world: Game | Callable[[int, "int | None"], Any], policy: Any, episodes: int = 10, *, seed: int = 0,
             max_ticks: int | None = None, name: str | None = None, others: Mapping[str, Any] | None = None,
             action_space: Any = None, drive: Callable[[Callable[[], bool]], None] | None = None) -> EvalResult:
    """Play ``episodes`` episodes of ``policy`` without learning, each in its own agent entity, and score them.

    ``world`` is a ``ecs_rl.Game`` (its evaluation world, main policy and tick limit are the defaults) or a
    factory ``factory(n, seed)`` that builds ``n`` agent entities of policy ``name`` in the current esper world.
    ``policy``: a greedy policy (``agent.to_policy()``, ``GreedyPolicy.load(...)``), an agent, a session or a
    controller; ``"random"`` plays uniformly random actions (the baseline, ``action_space`` taken from the
    game). Episode i starts from seed ``seed + i`` (the factory's seeding), so the same ``seed`` replays the same
    episodes, and a baseline on the same ``seed`` plays the same starts. The world runs in an esper world of
    its own (deleted after); after ``max_ticks`` ticks (default: the game's ``eval_max_ticks``, else 10 000)
    the episodes still running are recorded as truncated with extra ``unfinished`` = 1 and counted
    (``result.unfinished``). ``others``: policies for the game's other agents (a multi-policy game's other
    learners, ``"random"`` for a random one; a game's scripted controllers are added on their own). Returns the policy's ``EvalResult``
    (``records``, ``mean_reward``, ``unfinished``, ``seed``, ``ticks``).

    Args:
        world: a ``Game``, or a factory ``factory(n, seed)``.
        policy: any policy, or ``"random"``.
        episodes: the number of episodes.
        seed: episode i starts from ``seed + i``.
        max_ticks: the tick limit.
        name: with a factory, the policy name its agents carry.
        others: policies for the game's other agents.
        action_space: the space ``"random"`` samples.
        drive: ``drive(stop)`` steps the world itself (a window); default headless.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"evaluate(): episodes must be a whole number >= 1, got {episodes!r}")
    others = dict(others or {})
    if isinstance(world, Game):
        name = name or world.policy
        action_space = action_space if action_space is not None else world.spaces(name)[1]
        missing = [p for p in world.learning_policies if p != name and p not in others]
        if missing:
            raise ValueError(f"evaluate(): game {world.name!r} also needs policies for {', '.join(missing)} "
                             f"(others={{...}})")
        factory, reset = world.eval_factory, world.reset
        others = {**world.extra_controllers(),
                  **{p: RandomAgent(world.spaces(p)[1], seed=seed + 1 + k) if isinstance(o, str) and o == "random"
                     else o for k, (p, o) in enumerate(others.items())}}
        max_ticks = world.eval_max_ticks if max_ticks is None else max_ticks
    elif callable(world):
        if name is None:
            raise ValueError("evaluate(factory, ...) needs name=: the policy name its agents carry")
        factory, reset = world, None
        named = [p for p, o in others.items() if isinstance(o, str)]
        if named:
            raise ValueError(f"evaluate(factory, ...): others[{named[0]!r}] is a string; with a factory give a policy "
                             "object (e.g. RandomAgent(action_space)): only a Game knows its policies' spaces")
    else:
        raise TypeError(f"evaluate(): world must be an ecs_rl.Game or a factory(n, seed), got {world!r}")
    if isinstance(policy, str):
        if policy != "random":
            raise ValueError(f"evaluate(): policy must be a policy object or 'random', got {policy!r}")
        if action_space is None:
            raise ValueError("evaluate(factory, 'random') needs action_space= (a Game knows its own)")
        policy = RandomAgent(action_space, seed=seed)
    max_ticks = 10_000 if max_ticks is None else max_ticks
    if isinstance(max_ticks, bool) or not isinstance(max_ticks, int) or max_ticks < 1:
        raise ValueError(f"evaluate(): max_ticks must be a whole number >= 1, got {max_ticks!r}")
    results = run_episodes(factory, {**others, name: policy}, episodes, seed=seed, reset=reset, evaluate=[name],
                           max_ticks=max_ticks, drive=drive)
    return results[name]


__all__ = ["evaluate"]
