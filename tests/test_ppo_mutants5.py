"""PPO's ``act_batch``, ``observe`` and ``observe_transitions`` behaviours a mutation run found unchecked:
agent ids of another count than the rows are refused naming both counts, a next observation given as a list,
as float64 or in any shape of its size is taken as the float32 row it is (one of another size is refused at
once), and a batch of transitions is observed as its rows are one at a time, whatever their statuses, spans,
agents and dtypes."""

import numpy as np
import pytest
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import PpoAgent, PpoConfig
from ecs_rl.core.types import Transitions

from test_algorithms import constant_head
from test_algorithms_mutants import ACTIONS, BATCH, OBS
from test_algorithms_mutants8 import LONG, needs_long


def _agent(**overrides) -> PpoAgent:
    return PpoAgent(OBS, ACTIONS, PpoConfig(**{"hidden": (8,), "seed": 6, "n_steps": 4, "batch_size": 4,
                                               "n_epochs": 2, **overrides}))


def _same_weights(a: PpoAgent, b: PpoAgent) -> bool:
    return torch.equal(a.params.param.detach(), b.params.param.detach())


# -- act_batch ---------------------------------------------------------------------------------------------------


def test_act_batch_refuses_agent_ids_of_another_count_naming_both_and_remembers_nothing():
    agent = _agent()
    with pytest.raises(ValueError, match=r"^agent_ids has 2 ids for 3 observations$"):
        agent.act_batch(BATCH[:3], ActMode.EXPLORE, agent_ids=[0, 1])
    with pytest.raises(ValueError, match=r"^agent_ids has 4 ids for 1 observations$"):
        agent.act_batch(BATCH[:1], ActMode.EXPLORE, agent_ids=[5, 6, 7, 8])
    with pytest.raises(RuntimeError, match=r"agent 0 without an explore-mode act"):
        agent.observe(Experience(BATCH[0], 0, 1.0, BATCH[1], agent_id=0))


# -- observe -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [
    lambda row: row.astype(np.float64).tolist(),  # a plain list of Python floats
    lambda row: row.astype(np.float64),
    lambda row: row.astype(np.float64).reshape(1, 3),  # a row
    lambda row: row.reshape(3, 1),  # a column
], ids=["list", "float64", "float64-row", "column"])
def test_observe_takes_a_next_observation_of_any_dtype_or_shape_of_its_size_as_the_float32_row(given):
    flat, other = _agent(), _agent()
    rng = np.random.default_rng(2)
    # a truncated row (bootstrapped from V(next_obs) at once), then running ones: the last segment stays open
    # and the update bootstraps it from its last next_obs
    statuses = [EpisodeStatus.RUNNING, EpisodeStatus.TRUNCATED, EpisodeStatus.RUNNING, EpisodeStatus.RUNNING]
    for status in statuses:
        obs = rng.uniform(-1, 1, 3).astype(np.float32)
        reward = float(rng.normal())
        following = rng.uniform(-1, 1, 3).astype(np.float32)
        action = flat.act(obs)
        assert other.act(obs) == action
        flat.observe(Experience(obs, action, reward, following, status))
        other.observe(Experience(obs, action, reward, given(following), status))
    assert flat.updates == other.updates == 1
    assert _same_weights(flat, other)
    assert not _same_weights(flat, _agent())  # the update moved the weights: the comparison is not of two fresh nets


def test_observe_refuses_a_next_observation_of_another_size_at_once():
    agent = _agent()
    action = agent.act(BATCH[0], agent_id=3)
    with pytest.raises(ValueError, match=r"size 2 into shape \(3,\)"):
        agent.observe(Experience(BATCH[0], action, 1.0, np.zeros(2), agent_id=3))
    action = agent.act(BATCH[0], agent_id=4)
    with pytest.raises(ValueError, match=r"size 6 into shape \(3,\)"):
        agent.observe(Experience(BATCH[0], action, 1.0, np.zeros((2, 3)), agent_id=4))
    assert agent.total_steps == 0


# -- observe_transitions -----------------------------------------------------------------------------------------


def _round(rng: np.random.Generator, ids: np.ndarray, status: list[int], ticks: list[int]) -> Transitions:
    n = len(ids)
    return Transitions(obs=rng.uniform(-1, 1, (n, 3)).astype(np.float32), actions=np.zeros(n, dtype=np.int64),
                       rewards=rng.normal(size=n), next_obs=rng.uniform(-1, 1, (n, 3)),  # float64, as a game may give
                       status=np.array(status, dtype=np.int64), agent_ids=ids, ticks=np.array(ticks, dtype=np.int64))


@pytest.mark.parametrize("as_lists", [False, True])
def test_observe_transitions_observes_each_row_as_observe_does(as_lists):
    batched, single = _agent(n_steps=2), _agent(n_steps=2)  # 4 agents, 2 rounds: due after the second
    batched.hold_updates = single.hold_updates = True  # both updated below, after their rollouts are compared
    rng = np.random.default_rng(8)
    ids = np.array([10, 11, 12, 13], dtype=np.int64)
    # every status on every span: running (0), terminated (1) and truncated (2), spans of 1, 2 and 3 ticks
    rounds = [_round(rng, ids, [0, 2, 1, 0], [1, 2, 3, 1]), _round(rng, ids, [2, 0, 0, 1], [3, 1, 2, 2])]
    for batch in rounds:
        actions = batched.act_batch(batch.obs, ActMode.EXPLORE, ids)
        assert np.array_equal(single.act_batch(batch.obs, ActMode.EXPLORE, ids), actions)
        batch.actions = actions
        if as_lists:
            batch = Transitions(batch.obs, batch.actions, batch.rewards.tolist(), batch.next_obs.tolist(),
                                batch.status.tolist(), batch.agent_ids.tolist(), batch.ticks.tolist())
        batched.observe_transitions(batch)
        for i in range(len(batch)):
            single.observe(batch.experience(i))
    assert batched.total_steps == single.total_steps == 8
    want = single._advantages()
    got = batched._advantages()
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert batched.update_if_due() and single.update_if_due()
    assert _same_weights(batched, single) and not _same_weights(batched, _agent(n_steps=2))



@needs_long
def test_observe_transitions_rounds_a_reward_to_float64_first_as_observe_does():
    """A long double reward: rounded to float32 directly it is 1 + 2**-23, through float64 (as ``observe``'s
    ``float(reward)`` does) 1.0; with a critic of 0 a terminated row's return is its reward."""
    batched, single = _agent(n_steps=100), _agent(n_steps=100)
    for agent in (batched, single):
        constant_head(agent.net.critic, [0.0])
        agent.act_batch(BATCH[:2], ActMode.EXPLORE, [1, 2])
    rewards = np.array([LONG, -LONG], dtype=np.longdouble)
    batched.observe_transitions(Transitions(BATCH[:2], np.zeros(2), rewards, BATCH[2:4], np.array([1, 1]),
                                            np.array([1, 2]), np.array([1, 1])))
    for i, agent_id in enumerate((1, 2)):
        single.observe(Experience(BATCH[i], 0, rewards[i], BATCH[2 + i], EpisodeStatus.TERMINATED, agent_id))
    returns = batched._advantages()[4]
    assert returns.tolist() == [1.0, -1.0] == single._advantages()[4].tolist()
