"""Several policies in one world: a budget each (exact), frozen policies, population evaluation, deaths."""

import esper
import numpy as np
import pytest
import torch
from walk_world import ACT_SPACE, OBS_SPACE, RecordingAgent, reset, spawn

from ecs_rl import EpisodeStatus, TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, GreedyPolicy, PpoAgent, PpoConfig
from ecs_rl.algorithms.common import CheckpointError
from ecs_rl.core.stats import Max, StatsTracker
from ecs_rl.ecs import Done, EpisodeInfo, Evaluation, Reward, install, run_episodes, step_world

TERMINATED, TRUNCATED, RUNNING = EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED, EpisodeStatus.RUNNING


def recording(steps=None, seed=0):
    session = TrainingSession(RecordingAgent(seed))
    return session.with_max_steps(steps) if steps is not None else session


def dqn(seed):
    return TrainingSession(DqnAgent(OBS_SPACE, ACT_SPACE, DqnConfig(learning_starts=8, batch_size=8, seed=seed)))


def weights(session):
    return torch.cat([p.detach().flatten().clone() for p in session.agent.q_net.parameters()])


# -- budgets -----------------------------------------------------------------------------------------

def test_two_policies_with_different_agent_counts_each_stop_at_their_own_budget(world):
    many, one = recording(100, seed=1), recording(30, seed=2)
    for i in range(8):
        spawn("many", limit=7, tag=float(i))
    spawn("one", limit=7)
    plugin = install({"many": many, "one": one}, reset=reset)
    step_world(13)  # 8 agents: 104 decisions in 13 ticks; the budget cuts the 13th tick's at 100
    assert many.total_steps == len(many.agent.experiences) == 100 and many.is_done()
    assert plugin.frozen == {"many"} and plugin.progress()["many"].state == "budget"
    assert plugin.progress()["one"].state == "learning" and not plugin.done
    decisions = len(many.agent.batches)
    ticks = step_world(plugin=plugin, max_ticks=1000)
    assert one.total_steps == len(one.agent.experiences) == 30 and plugin.done and ticks == 30 - 13
    assert many.total_steps == len(many.agent.experiences) == 100  # it played on without learning ...
    assert [b[2].value for b in many.agent.batches[decisions:]] == ["exploit"] * (30 - 13)  # ... greedily
    assert {p.policy: (p.steps, p.budget, p.state) for p in plugin.progress().values()} == \
        {"many": (100, 100, "budget"), "one": (30, 30, "budget")}


@pytest.mark.parametrize("period", [1, 3])
def test_a_single_policy_budget_is_exact(world, tmp_path, period):
    run_dir = TrainingRun.create("walk", f"budget{period}", root=tmp_path)
    session = recording(500).with_run(run_dir).with_checkpoint_freq(250)
    for i in range(7):  # 7 agents never divide 500
        spawn("walk", limit=11, tag=float(i), decision_period=period)
    plugin = install({"walk": session}, reset=reset)
    step_world(plugin=plugin, max_ticks=100_000)
    assert plugin.done and session.total_steps == len(session.agent.experiences) == 500
    session.close()
    assert [s for s, _ in run_dir.numbered_checkpoints()] == [250, 500]
    assert run_dir.metadata["total_steps"] == 500


def test_an_experiment_wide_budget_caps_every_policy_together(world):
    red, blue = recording(seed=1), recording(seed=2)
    for i in range(3):
        spawn("red", limit=5, tag=float(i))
    spawn("blue", limit=5)
    plugin = install({"red": red, "blue": blue}, reset=reset, max_steps=42)
    step_world(plugin=plugin, max_ticks=1000)
    assert plugin.done and plugin.steps == 42 and red.total_steps + blue.total_steps == 42
    assert red.total_steps == 3 * blue.total_steps + 2  # 10 full ticks (40) and 2 of red's next 3
    with pytest.raises(ValueError, match="max_steps must be an integer >= 0"):
        install({"red": recording()}, reset=reset, max_steps=-1)


def test_evaluations_run_at_exact_multiples_of_every(world):
    session = recording(40)
    seen = []

    def factory(n, seed):  # what the learner had learned from when the evaluation began
        seen.append(len(session.agent.experiences))
        return [spawn("walk", limit=3, tag=float(i)) for i in range(n)]

    for i in range(3):  # 3 decisions a tick: 5, 10, ... fall inside ticks
        spawn("walk", limit=4, tag=float(i))
    plugin = install({"walk": session}, reset=reset, evaluation=Evaluation(factory, every=5, episodes=2))
    step_world(plugin=plugin, max_ticks=1000)
    assert [r.step for r in plugin.eval_history] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert seen == [5, 10, 15, 20, 25, 30, 35, 40]


# -- frozen policies ---------------------------------------------------------------------------------

def test_a_frozen_policy_keeps_its_weights_while_the_other_learns_and_can_learn_again(world):
    red, blue = dqn(1), dqn(2)
    for i in range(2):
        spawn("red", limit=6, tag=float(i))
        spawn("blue", limit=6, tag=float(i))
    plugin = install({"red": red, "blue": blue}, reset=reset)
    plugin.freeze("red")
    red_before, blue_before = weights(red), weights(blue)
    step_world(60)
    assert torch.equal(weights(red), red_before) and red.total_steps == 0 and red.total_episodes == 0
    assert not torch.equal(weights(blue), blue_before) and blue.total_steps == 120
    assert plugin.frozen == {"red"} and plugin.progress()["red"].state == "frozen" and not plugin.done
    assert plugin.policies["red"].stats.episodes == 20  # it played: 2 agents, 10 episodes each
    plugin.unfreeze("red")
    step_world(30)
    assert red.total_steps == 60 and not torch.equal(weights(red), red_before) and plugin.frozen == frozenset()


def test_a_frozen_policy_acts_with_what_it_is_given_and_can_be_swapped(world):
    learner = dqn(0)
    spawn("red", limit=1000)
    plugin = install({"red": learner}, reset=reset)
    always = [RecordingAgent(1), RecordingAgent(2)]
    plugin.freeze("red", always[0])
    step_world(3)
    plugin.freeze("red", always[1])  # a frozen policy: swap what it acts with
    step_world(2)
    assert plugin.acting("red") is always[1]
    assert [len(a.batches) for a in always] == [3, 2] and learner.total_steps == 0
    with pytest.raises(ValueError, match="freeze\\(\\) needs a learning policy of this plugin \\(red\\), got 'blue'"):
        plugin.freeze("blue")
    with pytest.raises(TypeError, match="must act with act_batch"):
        plugin.freeze("red", dqn(3))


def test_ppo_frozen_and_unfrozen_mid_episode_learns_only_its_own_decisions(world):
    session = TrainingSession(PpoAgent(OBS_SPACE, ACT_SPACE, PpoConfig(n_steps=8, batch_size=16, n_epochs=1)))
    for i in range(3):
        spawn("walk", limit=9, tag=float(i), decision_period=2)
    plugin = install({"walk": session}, reset=reset)
    step_world(3)  # mid-decision: three decisions of the session in flight
    plugin.freeze("walk")
    step_world(5)
    plugin.unfreeze("walk")  # mid-decision again: those came from the frozen copy, not learned from
    step_world(60)
    assert session.total_steps > 50 and session.agent._steps == session.total_steps


def test_unfreezing_a_policy_that_spent_its_budget_is_refused(world):
    session = recording(4)
    spawn("walk", limit=100)
    plugin = install({"walk": session}, reset=reset)
    step_world(plugin=plugin, max_ticks=100)
    with pytest.raises(ValueError, match="policy 'walk' reached its budget of 4 steps"):
        plugin.unfreeze("walk")
    session.with_max_steps(6)
    plugin.unfreeze("walk")
    assert not plugin.done
    step_world(plugin=plugin, max_ticks=100)
    assert session.total_steps == 6 and plugin.done


# -- deaths by immediate deletion --------------------------------------------------------------------

class Killer(esper.Processor):
    """A game processor: on tick ``at`` the agent dies (-1, Done.terminated) and is deleted at once."""

    def __init__(self, entity, at):
        self.entity, self.at, self.tick = entity, at, 0

    def process(self, *args, **kwargs):
        self.tick += 1
        if self.tick == self.at:
            esper.component_for_entity(self.entity, Reward).value -= 1.0
            esper.component_for_entity(self.entity, Done).terminated = True
            esper.delete_entity(self.entity, immediate=True)


def test_a_death_by_immediate_deletion_reaches_the_learner(world, tmp_path):
    run_dir = TrainingRun.create("walk", "death", root=tmp_path)
    session = recording().with_run(run_dir)
    entity = spawn("walk", limit=100)
    esper.add_processor(Killer(entity, 5), -10)
    install({"walk": session}, reset=reset)
    step_world(7)
    exps = session.agent.experiences
    assert [e.status for e in exps] == [RUNNING] * 4 + [TERMINATED]
    assert exps[-1].reward == -1.0 + 1 + exps[-1].action and exps[-1].next_obs[0] == 5
    (row,) = run_dir.read_train_episodes()
    assert row["status"] == "terminated" and row["length"] == 5
    assert row["total_reward"] == pytest.approx(sum(e.reward for e in exps))
    assert session.total_episodes == 1 and session.total_steps == 5


def test_a_death_by_immediate_deletion_mid_decision_period_closes_that_decision(world, tmp_path):
    run_dir = TrainingRun.create("walk", "period", root=tmp_path)
    session = recording().with_run(run_dir)
    entity = spawn("walk", limit=100, decision_period=3)
    esper.add_processor(Killer(entity, 7), -10)  # decisions at ticks 1, 4 and 7; it dies at tick 7
    install({"walk": session}, reset=reset)
    step_world(9)
    assert [e.ticks for e in session.agent.experiences] == [3, 3, 1]
    assert session.agent.experiences[-1].status == TERMINATED
    (row,) = run_dir.read_train_episodes()
    assert row["length"] == 7 and row["extras"]["decisions"] == 3


@pytest.mark.parametrize("immediate", [True, False])
def test_a_deletion_between_ticks_mid_decision_period_adds_no_step(world, tmp_path, immediate):
    """Deleted after the record processor ran (outside esper.process): the episode closes as it stood, no tick
    that was never played is added, and the decision in flight is dropped rather than learned from."""
    run_dir = TrainingRun.create("walk", "between", root=tmp_path)
    session = recording().with_run(run_dir)
    entity = spawn("walk", limit=100, decision_period=3)
    install({"walk": session}, reset=reset)
    step_world(5)  # decisions at ticks 1 and 4: the second is in flight
    esper.delete_entity(entity, immediate=immediate)
    step_world(1)
    assert [e.ticks for e in session.agent.experiences] == [3]
    (row,) = run_dir.read_train_episodes()
    assert (row["length"], row["status"], row["extras"]["decisions"]) == (5, "truncated", 1)


def test_an_immediate_deletion_keeps_the_action_mask_of_its_last_step(world):
    from ecs_rl import RandomAgent
    from ecs_rl.ecs import ActionMask

    class MaskedRecording(RecordingAgent):  # keeps its transitions, takes masks
        def act_batch(self, obs_batch, mode=None, agent_ids=None, masks=None):
            return RandomAgent.act_batch(self, obs_batch, mode, agent_ids, masks)

    session = TrainingSession(MaskedRecording())
    entity = spawn("walk", limit=100)
    esper.add_component(entity, ActionMask(np.array([True, False])))

    class Leave(esper.Processor):  # leaves (not a death) at tick 3, deleted at once
        tick = 0

        def process(self, *args, **kwargs):
            self.tick += 1
            if self.tick == 3:
                esper.delete_entity(entity, immediate=True)

    esper.add_processor(Leave(), -10)
    install({"walk": session}, reset=reset)
    step_world(4)
    last = session.agent.experiences[-1]
    assert last.status == EpisodeStatus.TRUNCATED and last.next_mask.tolist() == [True, False]


# -- evaluation of population worlds -----------------------------------------------------------------

class Refill(esper.Processor):
    """Births: keeps ``n`` walkers alive, each dying after ``limit`` ticks and catching 2 per life."""

    def __init__(self, n, limit):
        self.n, self.limit = n, limit

    def process(self, *args, **kwargs):
        alive = sum(1 for e, _ in esper.get_component(EpisodeInfo) if esper.entity_exists(e))
        for _ in range(self.n - alive):
            born(self.limit)


def born(limit):
    entity = spawn("walk", limit=limit)
    esper.add_component(entity, EpisodeInfo({"catches": 2.0}))
    return entity


def population(limit):
    def factory(n, seed):
        esper.add_processor(Refill(n, limit), -400)
        return [born(limit) for _ in range(n)]
    return factory


@pytest.mark.parametrize("limit", [5, 10])
def test_evaluation_over_a_window_of_ticks_reports_rates(world, limit):
    result = run_episodes(population(limit), {"walk": RecordingAgent(0)}, 4, seed=0, ticks=203)["walk"]
    ended = [r for r in result.records if r.extras.get("unfinished") != 1.0]
    assert result.mode == "ticks" and result.ticks == 203
    # 4 agents, each life `limit` ticks, the newborn born in the tick its parent died; 3 ticks into the last lives
    assert len(ended) == 4 * (200 // limit) and result.unfinished == 4
    assert sorted(r.length for r in result.records if r not in ended) == [3] * 4
    rates = result.rates
    assert rates["ended"] == rates["terminated"] == pytest.approx(4 * (200 // limit) * 1000 / 203)
    assert rates["catches"] == pytest.approx(2 * rates["ended"]) and rates["lifetime"] == limit
    assert esper.current_world == world and not [w for w in esper.list_worlds() if "episodes" in w]


def test_evaluation_of_the_first_episodes_stops_when_they_end(world):
    result = run_episodes(population(7), {"walk": RecordingAgent(0)}, 4, seed=0, max_ticks=10_000)["walk"]
    assert result.mode == "episodes" and result.ticks == 7 and len(result.records) == 4  # not 10 000 ticks
    assert [r.length for r in result.records] == [7] * 4 and result.unfinished == 0


def test_training_evaluation_in_ticks_mode_is_bounded_and_logged(world, tmp_path):
    run_dir = TrainingRun.create("walk", "evalticks", root=tmp_path)
    session = recording(20).with_run(run_dir)
    spawn("walk", limit=3)
    plugin = install({"walk": session}, reset=reset,
                     evaluation=Evaluation(population(4), every=10, episodes=3, ticks=50))
    step_world(plugin=plugin, max_ticks=1000)
    assert [(r.step, r.mode, r.ticks) for r in plugin.eval_history] == [(10, "ticks", 50), (20, "ticks", 50)]
    logged = run_dir.read_eval_episodes()
    assert len(logged) == sum(len(r.records) for r in plugin.eval_history) and logged[0]["eval_ticks"] == 50
    assert plugin.frozen == {"walk"}
    (final,) = plugin.evaluate()  # a policy that spent its budget is still evaluated on request
    assert final.step == 20 and len(run_dir.read_eval_episodes()) == len(logged) + len(final.records)
    with pytest.raises(ValueError, match="Evaluation.ticks must be an integer >= 1"):
        Evaluation(population(4), ticks=0)


# -- stats and loading -------------------------------------------------------------------------------

def test_with_stats_adds_to_the_default_statistics(world):
    session = recording().with_stats(StatsTracker().track("best", "reward", Max()))
    alone = recording().with_stats(StatsTracker().track("best", "reward", Max()), defaults=False)
    spawn("a", limit=4)
    spawn("b", limit=4)
    install({"a": session, "b": alone}, reset=reset)
    step_world(8)
    summary = session.stats_summary()
    assert list(summary) == ["mean_reward", "mean_length", "mean_decisions", "best"] and summary["mean_length"] == 4.0
    assert summary["best"] >= summary["mean_reward"] > 0
    assert list(alone.stats_summary()) == ["best"]


def test_greedy_policy_load_falls_back_to_latest_and_names_what_exists(world, tmp_path):
    run_dir = TrainingRun.create("walk", "load", root=tmp_path)
    session = dqn(0).with_run(run_dir)
    session.close()
    with pytest.warns(UserWarning, match="has no best.pt .*loading latest.pt"):
        policy = GreedyPolicy.load(run_dir.path)
    assert policy.source == run_dir.latest_path
    obs = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    assert np.array_equal(policy.act_batch(obs), session.agent.to_policy().act_batch(obs))
    with pytest.raises(CheckpointError, match="has no best.pt; its checkpoints: latest"):
        GreedyPolicy.load(run_dir.path, which="best")
