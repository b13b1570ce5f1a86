"""A tiny esper game for plugin tests: a walker counts up one per tick and its episode ends at a limit.

Observation = [position, entity-specific tag]; reward = 1 + action each tick; the episode terminates
at ``limit`` (or truncates, with ``truncate=True``). Transitions can be checked by hand.
"""

from dataclasses import dataclass

import esper
import gymnasium as gym
import numpy as np

from ecs_rl import RandomAgent
from ecs_rl.ecs import Action, Done, Observation, Reward, agent_components

OBS_SPACE = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
ACT_SPACE = gym.spaces.Discrete(2)


@dataclass(slots=True)
class Walker:
    limit: int
    tag: float = 0.0
    truncate: bool = False
    position: int = 0


class WalkProcessor(esper.Processor):
    def process(self, *args, **kwargs):
        for _, (w, action, obs, reward, done) in esper.get_components(Walker, Action, Observation, Reward, Done):
            w.position += 1
            obs.value = np.array([w.position, w.tag], dtype=np.float32)
            reward.value += 1.0 + float(action.value)
            if w.position >= w.limit:
                done.truncated = w.truncate
                done.terminated = not w.truncate


def reset(entity, seed=None):
    w = esper.component_for_entity(entity, Walker)
    w.position = 0
    esper.component_for_entity(entity, Observation).value = np.array([0.0, w.tag], dtype=np.float32)


def spawn(policy, limit, tag=0.0, truncate=False, decision_period=1, agent_id=None):
    if esper.get_processor(WalkProcessor) is None:
        esper.add_processor(WalkProcessor(), priority=0)
    obs = np.array([0.0, tag], dtype=np.float32)
    return esper.create_entity(*agent_components(policy, obs, agent_id, decision_period), Walker(limit, tag, truncate))


def factory(policy="walk", limit=4):
    return lambda n, seed: [spawn(policy, limit, tag=float(i)) for i in range(n)]


class RecordingAgent(RandomAgent):
    """A real random agent that also keeps every transition and batch it was given."""

    def __init__(self, seed=0):
        super().__init__(ACT_SPACE, seed)
        self.observation_space = OBS_SPACE
        self.experiences = []
        self.batches = []
        self.forgotten = []

    def act_batch(self, obs_batch, mode=None, agent_ids=None):
        self.batches.append((np.array(obs_batch), list(agent_ids), mode))
        return super().act_batch(obs_batch, mode, agent_ids)

    def observe(self, experience):
        super().observe(experience)
        self.experiences.append(experience)

    def forget(self, agent_id):
        self.forgotten.append(agent_id)


class At(esper.Processor):
    """A game processor that runs ``fn()`` on tick ``at`` (added after the walk: between decide and record)."""

    def __init__(self, at, fn):
        self.tick, self.at, self.fn = 0, at, fn

    def process(self, *args, **kwargs):
        self.tick += 1
        if self.tick == self.at:
            self.fn()
