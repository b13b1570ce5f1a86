"""DQN's ``observe_transitions`` and target sync behaviours a mutation run found unchecked: a batch given as
Python lists stores the float32 observations ``act`` would see, a batch whose decisions all span the same
number of ticks k is discounted by gamma**k as row by row, and a hard target update (tau 1) replaces the
target outright, even one loaded from a checkpoint with non-finite weights."""

import math

import numpy as np
import pytest
import torch

from ecs_rl import EpisodeStatus, Experience, Transitions
from ecs_rl.algorithms import DqnAgent, DqnConfig

from test_algorithms_mutants import ACTIONS as SAVED_ACTIONS
from test_dqn_mutants import ACTIONS, OBS, flat, transition
from test_dqn_mutants3 import NANOS, STORING, WIDE
from test_dqn_mutants4 import rewrite, saved_dqn


def _transitions(experiences):
    """``experiences`` as one ``Transitions`` of plain Python lists (what a caller may hand without numpy)."""
    return Transitions([list(e.obs) for e in experiences], [e.action for e in experiences],
                       [e.reward for e in experiences], [list(e.next_obs) for e in experiences],
                       [int(e.status == EpisodeStatus.TERMINATED) for e in experiences],
                       [e.agent_id for e in experiences], [e.ticks for e in experiences])


def test_a_batch_of_python_lists_stores_the_float32_observations_act_would_see():
    """Integer observations past 2**53 given as Python lists: ``observe_transitions`` stores each as
    ``np.asarray(obs, dtype=np.float32)`` does (the cast ``act`` applies), as ``observe_batch`` does."""
    experiences = [Experience([NANOS + k, k], k % 2, 0.5 * k, [NANOS + k, k + 1], EpisodeStatus.RUNNING)
                   for k in range(3)]
    seen = np.asarray([e.obs for e in experiences], dtype=np.float32)
    seen_next = np.asarray([e.next_obs for e in experiences], dtype=np.float32)
    assert not np.array_equal(seen[:, 0], np.asarray([e.obs for e in experiences]).astype(np.float32)[:, 0])
    lists, batch = DqnAgent(WIDE, ACTIONS, STORING), DqnAgent(WIDE, ACTIONS, STORING)
    lists.observe_transitions(_transitions(experiences))
    batch.observe_batch(experiences)
    rows = lists.replay.rows[:3]
    assert np.array_equal(rows[:, :2], seen) and np.array_equal(rows[:, 2:4], seen_next)
    assert np.array_equal(rows, batch.replay.rows[:3])


@pytest.mark.parametrize("ticks", [[2] * 5, [3] * 5, [1, 2, 1, 3, 2]])
def test_a_batch_is_discounted_by_gamma_to_the_ticks_each_decision_spans(ticks):
    """Every decision spanning k ticks (an entity deciding every k-th tick): each row bootstraps with
    gamma**k, the rows ``observe`` stores one at a time."""
    config = DqnConfig(hidden=(8,), gamma=0.9, learning_starts=10_000)
    experiences = [Experience(e.obs, e.action, e.reward, e.next_obs, e.status, ticks=k)
                   for e, k in zip((transition(t) for t in range(5)), ticks)]
    batched, one = DqnAgent(OBS, ACTIONS, config), DqnAgent(OBS, ACTIONS, config)
    batched.observe_transitions(_transitions(experiences))
    for e in experiences:
        one.observe(e)
    discounts = batched.replay.rows[:5, 2 * 3 + 3]
    assert np.array_equal(discounts, np.float32([0.9 ** k for k in ticks]))
    assert np.array_equal(batched.replay.rows[:5], one.replay.rows[:5])


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_a_hard_target_update_replaces_a_non_finite_target_loaded_from_a_checkpoint(tmp_path, bad):
    """tau 1 is a copy, not a blend: the target becomes the online network whatever it held (a blend with
    weight 1 keeps a non-finite target: inf * 0 is nan)."""
    path = tmp_path / "dqn.pt"
    saved = saved_dqn(path, tau=1.0, target_update_interval=2, learning_starts=10_000)
    rewrite(path, target_net={k: torch.full_like(v, bad) for k, v in saved.target_net.state_dict().items()})
    agent = DqnAgent(OBS, SAVED_ACTIONS, DqnConfig(hidden=(8,), seed=2, tau=1.0, target_update_interval=2,
                                             learning_starts=10_000))
    agent.load(path)
    assert not flat(agent.target_net).isfinite().any()
    agent.observe_transitions(_transitions([transition(1)]))
    assert not flat(agent.target_net).isfinite().any()  # no sync before the interval
    agent.observe_transitions(_transitions([transition(2)]))
    assert torch.equal(flat(agent.target_net), flat(agent.q_net))
    assert torch.equal(flat(agent.q_net), flat(saved.q_net))  # nothing trained: the saved online network
