"""DQN update bursts, behaviours a mutation run found unchecked: a burst trains toward the best *legal* next
action (plain and double DQN), and plain DQN computes all of a burst's targets in one target-network pass."""

import numpy as np
import pytest
import torch

from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig

from test_dqn_mutants import ACTIONS, OBS, transition
from test_masks import constant_head


@pytest.mark.parametrize("double_dqn", [False, True])
def test_a_burst_trains_toward_the_best_legal_next_action_never_a_masked_one(double_dqn):
    """Action 1 has the highest value at every next state (online and target net) but is masked there, so
    the target is 0 + 0.9 * Q_target(s', 0) = -9: Q(s, 1) falls from 1. Bootstrapping from the masked
    action would give +9 and raise it."""
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), gamma=0.9, learning_rate=0.1, batch_size=4,
                                             gradient_steps=2, learning_starts=0, target_update_interval=1_000,
                                             double_dqn=double_dqn))
    constant_head(agent.target_net, [-10.0, 10.0])
    constant_head(agent.q_net, [0.0, 1.0])  # double DQN's online argmax over all actions: the masked one
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    for o in obs:  # the fourth fills a minibatch: one burst of two updates
        agent.observe(Experience(o, 1, 0.0, rng.uniform(-1, 1, 3), EpisodeStatus.RUNNING,
                                 next_mask=np.array([True, False])))
    assert agent._updates == 2
    with torch.no_grad():
        q = agent.q_net(torch.from_numpy(obs))
    assert (q[:, 1] < 0.9).all(), q  # two Adam steps of 0.1 toward -9
    assert (q[:, 0] == 0.0).all()  # an action not taken is not trained


@pytest.mark.parametrize("double_dqn, passes", [(False, [32]), (True, [8, 8, 8, 8])])
def test_plain_dqn_computes_a_bursts_targets_in_one_target_network_pass(double_dqn, passes):
    """The target network does not change during a burst, so plain DQN evaluates it once over all the
    minibatches' next states; double DQN picks a* with the online net, which each step changes: one pass each."""
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), batch_size=8, gradient_steps=4, learning_starts=0,
                                             double_dqn=double_dqn))
    rows = []
    agent.target_net.register_forward_hook(lambda module, args, out: rows.append(len(args[0])))
    for t in range(8):  # the eighth fills a minibatch: one burst of four updates
        agent.observe(transition(t))
    assert agent._updates == 4 and rows == passes
