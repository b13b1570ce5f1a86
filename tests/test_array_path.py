"""The plugin hands each policy its transitions of a tick as one ``Transitions`` batch (arrays, no object per
agent). A learner that takes the arrays must end up exactly where it would taking the same transitions one
``Experience`` at a time: the same replay rows, rollouts and weights."""

import dataclasses
import itertools

import esper
import numpy as np
import pytest
import torch

from ecs_rl import TrainingSession
from ecs_rl.algorithms import DqnAgent, PpoAgent, configure_torch, presets
from ecs_rl.core.types import EpisodeStatus, Experience, Transitions
from ecs_rl.ecs import install, step_world
from ecs_rl.ecs.components import ActionMask, Agent, Done
from ecs_rl.worlds import foragers

_names = itertools.count()


@pytest.fixture(autouse=True)
def one_thread():
    """The benchmarks' torch settings (one thread, flush-denormal) for these runs, restored afterwards."""
    previous = configure_torch()
    yield
    configure_torch(**dataclasses.asdict(previous))


class DqnOneByOne(DqnAgent):
    """The same learner, told each transition on its own (``observe``): the reference."""

    observe_transitions = None
    observe_batch = None


class PpoOneByOne(PpoAgent):
    observe_transitions = None


class _Rules(esper.Processor):
    """After the arena's tick: now and then a forager that dies (terminated), one cut short (truncated) and,
    with ``masks``, a random
    legal-action mask per forager (at least one legal), from the processor's own seeded generator."""

    def __init__(self, seed: int, masks: bool) -> None:
        self.rng = np.random.default_rng(seed)
        self.masks = masks

    def process(self, *args, **kwargs) -> None:
        rows = esper.get_components(foragers.Forager, Done)
        for entity, (_, done) in rows if self.masks else ():
            mask = self.rng.random(5) < 0.7
            mask[self.rng.integers(5)] = True
            esper.add_component(entity, ActionMask(mask))
        entity, (_, done) = rows[self.rng.integers(len(rows))]
        if self.rng.random() < 0.3 and not done.truncated:
            done.terminated = True
        entity, (_, done) = rows[self.rng.integers(len(rows))]
        if self.rng.random() < 0.3 and not done.terminated:
            done.truncated = True  # cut short (PPO bootstraps it from its final observation)


def _run(agent, ticks: int, masks: bool) -> None:
    name = f"array-path-{next(_names)}"
    previous = esper.current_world
    esper.switch_world(name)
    try:
        entities = foragers.build(24, seed=3, size=foragers.swarm_size(24))
        for entity in entities[::3]:  # some agents decide every other tick: transitions of 2 ticks
            esper.component_for_entity(entity, Agent).decision_period = 2
        esper.add_processor(_Rules(7, masks), priority=-50)
        plugin = install({"foragers": TrainingSession(agent)}, reset=foragers.reset)
        step_world(ticks, plugin=plugin)
    finally:
        esper.switch_world(previous)
        esper.delete_world(name)


@pytest.mark.parametrize("masks", [False, True])
def test_dqn_replay_rows_and_weights_are_those_of_one_transition_at_a_time(masks):
    config = presets.foragers_swarm_dqn(0, batch_size=32, buffer_size=2_000, learning_starts=300, train_freq=48,
                                        gradient_steps=2, target_update_interval=500)
    arrays = DqnAgent(foragers.observation_space, foragers.action_space, config)
    single = DqnOneByOne(foragers.observation_space, foragers.action_space, config)
    _run(arrays, 120, masks)
    _run(single, 120, masks)
    assert arrays.total_steps == single.total_steps > 2_000  # the ring wrapped
    assert arrays._updates == single._updates > 20
    assert arrays.episode_extras()["loss_last"] == single.episode_extras()["loss_last"] > 0
    assert np.array_equal(arrays.replay.rows, single.replay.rows)
    assert arrays.replay.pos == single.replay.pos
    d = arrays.obs_dim
    status = arrays.replay.rows[:, 2 * d + 2]
    discounts = arrays.replay.rows[:, 2 * d + 3]
    assert status.any() and np.isclose(discounts, config.gamma ** 2).any()  # deaths and 2-tick transitions seen
    if masks:
        assert arrays.replay.next_masks is not None and not arrays.replay.next_masks.all()
        assert np.array_equal(arrays.replay.next_masks, single.replay.next_masks)
    else:
        assert arrays.replay.next_masks is None and single.replay.next_masks is None
    assert torch.equal(arrays.q_params.param, single.q_params.param)
    assert torch.equal(arrays.target_params, single.target_params)


@pytest.mark.parametrize("masks", [False, True])
def test_ppo_rollouts_and_weights_are_those_of_one_transition_at_a_time(masks):
    config = presets.foragers_swarm_ppo(0, n_steps=16, batch_size=128)
    arrays = PpoAgent(foragers.observation_space, foragers.action_space, config)
    single = PpoOneByOne(foragers.observation_space, foragers.action_space, config)
    _run(arrays, 120, masks)
    _run(single, 120, masks)
    assert arrays.total_steps == single.total_steps and arrays.updates == single.updates >= 5
    assert torch.equal(arrays.params.param, single.params.param)
    rollout, reference = arrays._rollout(), single._rollout()
    assert len(rollout) == len(reference) > 0
    for a, b in zip(rollout, reference):
        assert a.rewards == b.rewards and a.dones == b.dones and a.discounts == b.discounts and a.logps == b.logps
        assert np.array_equal(np.stack(a.obs), np.stack(b.obs))
        assert np.array_equal(a.last_next_obs, b.last_next_obs)


def test_transitions_slice_and_rows_as_experiences():
    batch = Transitions(np.arange(6.0).reshape(3, 2), np.array([1, 0, 2]), np.array([0.5, -1.0, 2.0]),
                        np.arange(6.0, 12.0).reshape(3, 2), np.array([0, 1, 2], dtype=np.int8),
                        np.array([7, 8, 9]), np.array([1, 1, 3]), None)
    assert len(batch) == 3 and len(batch[1:]) == 2
    first, second, third = batch.experiences()
    assert first == Experience(first.obs, 1, 0.5, first.next_obs, EpisodeStatus.RUNNING, 7, 1, None)
    assert second.status is EpisodeStatus.TERMINATED and third.status is EpisodeStatus.TRUNCATED
    assert third.ticks == 3 and third.agent_id == 9 and np.array_equal(third.next_obs, [10.0, 11.0])
    assert batch[1:].experience(0).agent_id == 8
    with pytest.raises(TypeError, match="slice"):
        batch[0]


def test_a_non_finite_reward_in_a_batch_names_its_agent():
    agent = DqnAgent(foragers.observation_space, foragers.action_space, presets.foragers_swarm_dqn(0))
    batch = Transitions(np.zeros((2, 8), np.float32), np.array([0, 1]), np.array([0.0, np.nan]),
                        np.zeros((2, 8), np.float32), np.zeros(2, np.int8), np.array([3, 4]), np.ones(2, np.int64))
    with pytest.raises(ValueError, match="reward of agent 4 must be a finite number"):
        TrainingSession(agent).observe_batch(batch)
