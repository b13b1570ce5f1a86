"""A tiny game with real-game churn: agents that die and respawn as new entities, and agents that leave.

Each of ``slots`` runners starts at x in {2, 3, 4} of a corridor 0..8 and moves left or right. Reaching
x = 8 earns +1 and the runner is deleted (its episode done: terminated); falling into the pit at x = 0
costs -1 and it dies the same way; a runner alive after ``LIFETIME`` ticks leaves (deleted: truncated).
Every tick costs 0.02. A spawner refills empty slots the next tick, with new entities.
"""

from dataclasses import dataclass

import esper
import gymnasium as gym
import numpy as np

from ecs_rl.ecs import Action, Agent, Observation, Reward, agent_components, despawn

GOAL, PIT, LIFETIME = 8, 0, 30
OBS_SPACE = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
ACT_SPACE = gym.spaces.Discrete(2)


@dataclass(slots=True)
class Runner:
    x: int
    age: int = 0


@dataclass(slots=True)
class Spawner:
    slots: int
    policy: str
    rng: np.random.Generator
    spawned: int = 0
    stable_ids: bool = False


def observe(runner: Runner) -> np.ndarray:
    return np.array([runner.x / GOAL, runner.age / LIFETIME], dtype=np.float32)


class CorridorProcessor(esper.Processor):
    def process(self, *args, **kwargs):
        for entity, (runner, action, obs, reward) in esper.get_components(Runner, Action, Observation, Reward):
            if action.value is None or not esper.entity_exists(entity):
                continue
            runner.x += 1 if int(action.value) == 1 else -1
            runner.age += 1
            obs.value = observe(runner)
            reward.value -= 0.02
            if runner.x >= GOAL:
                reward.value += 1.0
                despawn(entity, terminated=True)  # reached the goal: done
            elif runner.x <= PIT:
                reward.value -= 1.0
                despawn(entity, terminated=True)  # died
            elif runner.age >= LIFETIME:
                esper.delete_entity(entity)  # left: its episode ends truncated


class SpawnProcessor(esper.Processor):
    """Refills empty slots with fresh entities (a stable agent id per slot if asked)."""

    def process(self, *args, **kwargs):
        for _, spawner in esper.get_component(Spawner):
            live = {agent.agent_id for e, agent in esper.get_component(Agent) if esper.entity_exists(e)}
            count = sum(1 for e, _ in esper.get_component(Runner) if esper.entity_exists(e))
            free = [slot for slot in range(spawner.slots) if slot not in live] if spawner.stable_ids else None
            for k in range(spawner.slots - count):
                spawn_runner(spawner, free[k] if free else None)


def spawn_runner(spawner: Spawner, agent_id=None) -> int:
    runner = Runner(int(spawner.rng.integers(2, 5)))
    spawner.spawned += 1
    return esper.create_entity(*agent_components(spawner.policy, observe(runner), agent_id), runner)


def build(slots, seed, policy="run", stable_ids=False):
    """The corridor in the current world: processors and ``slots`` runners."""
    esper.add_processor(CorridorProcessor(), priority=0)
    esper.add_processor(SpawnProcessor(), priority=-50)  # after the game, before the plugin's record
    spawner = Spawner(slots, policy, np.random.default_rng(seed), stable_ids=stable_ids)
    esper.create_entity(spawner)
    return [spawn_runner(spawner, slot if stable_ids else None) for slot in range(slots)]


def factory(policy="run"):
    return lambda n, seed: build(n, seed, policy)


def one_life_factory(policy="run"):
    """Evaluation worlds: ``n`` runners and no spawner (each plays one episode)."""
    def make(n, seed):
        esper.add_processor(CorridorProcessor(), priority=0)
        rng = np.random.default_rng(seed)
        return [esper.create_entity(*agent_components(policy, observe(r)), r)
                for r in (Runner(int(rng.integers(2, 5))) for _ in range(n))]
    return make
