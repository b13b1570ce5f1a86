"""DQN's ``observe`` and ``observe_batch`` behaviours a mutation run found unchecked: both paths store the
same rows for integer observations past float32's precision and for actions of a Discrete space that starts
past 2**53, ``observe_batch`` hands ``observe_transitions`` the dtypes ``Transitions`` documents, and the first
update comes on the first step past ``learning_starts`` once the buffer holds a batch."""

import gymnasium as gym
import numpy as np
import pytest

from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig

from test_algorithms_mutants5 import Recording
from test_dqn_mutants import ACTIONS, OBS, flat, transition

WIDE = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
STORING = DqnConfig(hidden=(8,), learning_starts=10_000)  # stores only: no update moves anything

# A nanosecond clock reading past 2**60 that float32 rounds differently when the int goes through a float64
# first (to 2**60, a tie broken to even) than when it is rounded once (to 2**60 + 2**37).
NANOS = 2**60 + 2**36 + 1


def _stored(config, space, actions, experiences):
    """The replay rows after observing ``experiences`` one at a time, and after one ``observe_batch``."""
    one, batch = DqnAgent(space, actions, config), DqnAgent(space, actions, config)
    for e in experiences:
        one.observe(e)
    batch.observe_batch(experiences)
    n = len(experiences)
    assert one.replay.size == batch.replay.size == n
    return one.replay.rows[:n], batch.replay.rows[:n]


def test_observe_and_observe_batch_store_the_same_rows_for_integer_observations_past_float32_precision():
    assert np.float32(float(NANOS)) != np.float32(np.int64(NANOS))  # the input tells the two roundings apart
    experiences = [Experience([NANOS + k, k], k % 2, 0.5 * k, [NANOS + k, k + 1], EpisodeStatus.RUNNING)
                   for k in range(3)]
    one, batch = _stored(STORING, WIDE, ACTIONS, experiences)
    assert np.array_equal(one, batch)
    assert one[:, 1].tolist() == [0.0, 1.0, 2.0] and one[:, 3].tolist() == [1.0, 2.0, 3.0]
    assert np.all(one[:, 0] == one[:, 2]) and np.all(np.abs(one[:, 0] - 2.0**60) <= 2.0**37)


def test_observe_batch_stores_the_action_index_of_a_discrete_space_starting_past_2_53():
    start = 2**53  # float64 holds 2**53 + 1 only as 2**53
    space = gym.spaces.Discrete(3, start=start)
    experiences = [transition(t) for t in range(6)]
    experiences = [Experience(e.obs, start + t % 3, e.reward, e.next_obs, e.status) for t, e in enumerate(experiences)]
    one, batch = _stored(STORING, OBS, space, experiences)
    assert batch[:, 2 * 3].tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    assert np.array_equal(one, batch)


def test_observe_batch_hands_observe_transitions_the_dtypes_transitions_documents():
    experiences = [Experience(e.obs, e.action, e.reward, e.next_obs, e.status, agent_id=7 + t, ticks=1 + t % 3,
                              next_mask=np.array([True, t % 2 == 0]))
                   for t, e in enumerate(transition(t) for t in range(5))]
    agent = Recording(OBS, ACTIONS, STORING)
    agent.observe_batch(experiences)
    (batch,) = agent.batches
    assert batch.rewards.dtype == np.float64 and batch.next_masks.dtype == np.bool_
    assert batch.agent_ids.dtype == np.int64 and batch.agent_ids.tolist() == [7, 8, 9, 10, 11]
    assert batch.ticks.dtype == np.int64 and batch.ticks.tolist() == [1, 2, 3, 1, 2]


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("learning_starts, batch_size, first_update", [(4, 2, 5), (0, 4, 4), (3, 3, 4)])
def test_the_first_update_comes_past_learning_starts_once_the_buffer_holds_a_batch(
        batched, learning_starts, batch_size, first_update):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), learning_starts=learning_starts, batch_size=batch_size,
                                             target_update_interval=1000, learning_rate=0.05, seed=3))
    updated = []
    for t in range(1, 7):
        before = flat(agent.q_net)
        if batched:
            agent.observe_batch([transition(t)])
        else:
            agent.observe(transition(t))
        if not np.array_equal(flat(agent.q_net).numpy(), before.numpy()):
            updated.append(t)
    assert updated == list(range(first_update, 7))
    assert np.isfinite(agent.episode_extras()["loss_last"])
