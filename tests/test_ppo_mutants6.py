"""PPO's ``update_if_due`` and ``observe_transitions`` behaviours a mutation run found unchecked: an update is due
only once the rollout holds ``n_steps`` for every live agent (one with a segment or a decision awaiting its
transition), also when every agent has left; the answer says whether it updated; and rewards of any float dtype
go into the rollout as plain floats, so a checkpoint saved mid-rollout loads with ``weights_only``."""

import numpy as np
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import PpoAgent, PpoConfig
from ecs_rl.core.types import Transitions

from test_algorithms_mutants import ACTIONS, BATCH, OBS


def _held_agent(n_steps: int = 2) -> PpoAgent:
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=n_steps, batch_size=4, n_epochs=1, hidden=(8,), seed=11))
    agent.hold_updates = True
    return agent


def _step(agent: PpoAgent, agent_id: int, row: int) -> None:
    action = agent.act(BATCH[row], ActMode.EXPLORE, agent_id=agent_id)
    agent.observe(Experience(BATCH[row], action, 1.0, BATCH[row + 1], EpisodeStatus.RUNNING, agent_id=agent_id))


def test_ppo_update_if_due_says_false_and_does_not_update_an_empty_rollout():
    agent = _held_agent()
    assert agent.update_if_due() is False and agent.updates == 0
    for row in range(2):
        _step(agent, 0, row)
    assert agent.update_if_due() is True and agent.updates == 1
    agent.forget_all()  # nothing collected since the update, nobody live
    assert agent.update_if_due() is False and agent.updates == 1


def test_ppo_update_if_due_says_false_until_n_steps_then_true_when_it_updates():
    agent = _held_agent(n_steps=3)
    for row in range(2):
        _step(agent, 0, row)
        assert agent.update_if_due() is False and agent.updates == 0
    _step(agent, 0, 2)
    assert agent.update_if_due() is True and agent.updates == 1
    assert agent.update_if_due() is False and agent.updates == 1


def test_ppo_update_waits_for_n_steps_per_agent_with_a_segment_or_a_pending_decision():
    agent = _held_agent(n_steps=2)
    for row in range(2):
        _step(agent, 0, row)
    agent.act(BATCH[5], ActMode.EXPLORE, agent_id=1)  # agent 1 decided: live, two agents need 4 rows
    assert agent.update_if_due() is False and agent.updates == 0
    agent.observe(Experience(BATCH[5], 0, 1.0, BATCH[6], EpisodeStatus.RUNNING, agent_id=1))
    _step(agent, 1, 6)
    assert agent.update_if_due() is True and agent.updates == 1


def test_ppo_updates_a_rollout_whose_agents_have_all_left():
    agent = _held_agent(n_steps=4)
    _step(agent, 0, 0)
    agent.forget(0)  # its segment is closed, nobody is live: the one row is n_steps for each of no agents
    assert agent.update_if_due() is True and agent.updates == 1


def test_ppo_observe_transitions_stores_long_double_rewards_as_floats_a_checkpoint_loads(tmp_path):
    agent = _held_agent(n_steps=8)
    ids = np.array([0, 1], dtype=np.int64)
    agent.act_batch(BATCH[:2], ActMode.EXPLORE, ids)
    rewards = np.array([0.25, -1.5], dtype=np.longdouble)
    agent.observe_transitions(Transitions(BATCH[:2], np.zeros(2, dtype=np.int64), rewards, BATCH[2:4],
                                          np.zeros(2, dtype=np.int64), ids, np.ones(2, dtype=np.int64)))
    path = tmp_path / "mid.pt"
    agent.save(path)
    stored = torch.load(path, weights_only=True)["segments"]
    assert [s["rewards"] for s in stored] == [[0.25], [-1.5]]
    assert all(type(r) is float for s in stored for r in s["rewards"])
    twin = _held_agent(n_steps=8)
    twin.load(path)
    assert twin.total_steps == 2
