"""Real-game lifecycles: agents that die and respawn as new entities, several worlds, honest evaluation."""

import esper
import numpy as np
import pytest
import corridor_world as corridor
from walk_world import ACT_SPACE, OBS_SPACE, At, RecordingAgent, Walker, reset, spawn

from ecs_rl import EpisodeStatus, RandomAgent, TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig
from ecs_rl.ecs import (
    Agent, ComponentError, Done, EpisodeTracker, Evaluation, ResetRequest, Reward, WorldError, despawn, install, step_world, run_episodes,
)

TERMINATED, TRUNCATED, RUNNING = EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED, EpisodeStatus.RUNNING


def by_key(experiences):
    out = {}
    for e in experiences:
        out.setdefault(e.agent_id, []).append(e)
    return out


def assert_chained(experiences):
    """Within each agent id, a transition starts where the previous one ended (unless that one was done)."""
    for key, exps in by_key(experiences).items():
        for a, b in zip(exps, exps[1:]):
            if not a.done:
                assert np.array_equal(a.next_obs, b.obs), f"agent {key}: {a.next_obs} then {b.obs}"


# -- deaths, departures and respawns --------------------------------------------------------------

class Fate(esper.Processor):
    """A game processor (after the walk) that, on tick ``at``, applies ``fates``: entity -> what happens."""

    def __init__(self, at, fates):
        self.tick, self.at, self.fates = 0, at, fates

    def process(self, *args, **kwargs):
        self.tick += 1
        if self.tick != self.at:
            return
        for entity, fate in self.fates.items():
            if fate == "dies":
                esper.component_for_entity(entity, Reward).value -= 5.0
                despawn(entity, terminated=True)
            elif fate == "leaves":
                despawn(entity)
            elif fate == "deleted":
                esper.delete_entity(entity)
            else:
                esper.delete_entity(entity, immediate=True)


def test_death_and_departure_deliver_the_final_transition(world):
    session = TrainingSession(RecordingAgent())
    dies, leaves, deleted, vanishes, stays = (spawn("walk", limit=100, tag=float(i)) for i in range(5))
    esper.add_processor(Fate(4, {dies: "dies", leaves: "leaves", deleted: "deleted", vanishes: "vanishes"}), -10)
    install({"walk": session}, reset=reset)
    step_world(4)
    keyed = by_key(session.agent.experiences)
    assert [e.status for e in keyed[dies]] == [RUNNING] * 3 + [TERMINATED]
    assert keyed[dies][-1].next_obs[0] == 4 and keyed[dies][-1].reward == -5.0 + 1 + keyed[dies][-1].action
    assert [e.status for e in keyed[leaves]] == [RUNNING] * 3 + [TRUNCATED]
    assert [e.status for e in keyed[deleted]] == [RUNNING] * 3 + [TRUNCATED]
    # deleted immediately: the plugin still holds its components, so the last step is recorded as well
    assert [e.status for e in keyed[vanishes]] == [RUNNING] * 3 + [TRUNCATED]
    assert keyed[vanishes][-1].next_obs[0] == 4 and keyed[vanishes][-1].reward == 1 + keyed[vanishes][-1].action
    step_world(2)
    assert len(by_key(session.agent.experiences)[stays]) == 6
    assert session.total_episodes == 4
    assert sorted(session.agent.forgotten) == sorted([dies, leaves, deleted, vanishes])


def test_episode_ends_name_how_the_agent_went(world, tmp_path):
    run_dir = TrainingRun.create("walk", "ends", root=tmp_path)
    session = TrainingSession(RecordingAgent()).with_run(run_dir)
    dies, leaves, vanishes = (spawn("walk", limit=100) for _ in range(3))
    esper.add_processor(Fate(3, {dies: "dies", leaves: "leaves", vanishes: "vanishes"}), -10)
    plugin = install({"walk": session}, reset=reset)
    seen = []
    plugin.on_episode_end(lambda event: seen.append(event))  # held strongly: a lambda works
    step_world(4)
    rows = {r["entity"]: r for r in run_dir.read_train_episodes()}
    assert rows[dies]["status"] == "terminated" and rows[dies]["length"] == 3
    assert rows[leaves]["status"] == "truncated" and rows[leaves]["length"] == 3
    assert rows[vanishes]["status"] == "truncated" and rows[vanishes]["extras"]["entity_removed"] == 1.0
    assert rows[vanishes]["length"] == 3  # its last tick is recorded although its components are gone
    assert sorted(e.entity for e in seen) == sorted([dies, leaves, vanishes])


def test_on_end_delete_removes_ended_entities_instead_of_resetting(world):
    session = TrainingSession(RecordingAgent())
    a, b = spawn("walk", limit=2), spawn("walk", limit=3)
    install({"walk": session}, on_end="delete")
    step_world(2)
    assert not esper.entity_exists(a) and esper.entity_exists(b)
    step_world(2)
    assert esper.get_component(Agent) == []
    assert [e.status for e in session.agent.experiences if e.done] == [TERMINATED, TERMINATED]
    assert session.total_episodes == 2 and sorted(session.agent.forgotten) == sorted([a, b])


def test_a_stable_agent_id_is_reused_only_after_its_entity_is_gone(world):
    agent = PpoAgent(corridor.OBS_SPACE, corridor.ACT_SPACE, PpoConfig(n_steps=64, seed=0))
    session = TrainingSession(agent)
    entities = corridor.build(4, seed=0, stable_ids=True)
    install({"run": session}, on_end="delete")
    step_world(400)  # every slot respawns many times under its own agent id, in the tick its runner dies
    spawner = esper.get_component(corridor.Spawner)[0][1]
    assert spawner.spawned > 4 * 10 and session.total_episodes >= spawner.spawned - 4
    assert agent._updates >= 4  # 1 600 steps, 64 per live agent per rollout
    assert set(agent._segments) <= {0, 1, 2, 3} and set(agent._pending) <= {0, 1, 2, 3}
    assert all(not seg.dones[:-1] or not any(seg.dones[:-1]) for seg in agent._segments.values())
    # a second live entity claiming a live entity's id is refused, naming both
    alive = next(e for e, a in esper.get_component(Agent) if a.agent_id == 2)
    twin = esper.create_entity(*corridor.agent_components("run", np.zeros(2, np.float32), 2), corridor.Runner(3))
    with pytest.raises(ComponentError, match=f"entity {twin}: agent_id 2 of policy 'run' is already used by "
                                             f"live entity {alive}"):
        step_world(1)
    assert entities


def test_ppo_segments_of_departed_agents_close_and_never_stall_updates():
    agent = PpoAgent(corridor.OBS_SPACE, corridor.ACT_SPACE, PpoConfig(n_steps=8, seed=0))
    obs = np.array([[0.5, 0.0]], dtype=np.float32)
    from ecs_rl import Experience
    for round_ in range(40):  # 40 short-lived actors, 3 steps each, never more than one live
        key = 1000 + round_
        for t in range(3):
            agent.act_batch(obs, agent_ids=[key])
            agent.observe(Experience(obs[0], 0, 0.1, obs[0], RUNNING, key))
        agent.forget(key)
    assert agent._updates == 40 * 3 // 8  # n_steps per *live* agent: one live agent -> every 8 steps
    assert len(agent._segments) == 0 and len(agent._closed) <= 3 and agent._pending == {}


# -- learning under churn -------------------------------------------------------------------------

def greedy_returns(policy, seed=123, episodes=64):
    result = run_episodes(corridor.one_life_factory(), {"run": policy}, episodes, seed=seed)["run"]
    assert len(result.records) == episodes
    return float(np.mean([r.total_reward for r in result.records]))


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_learning_with_agents_that_die_and_respawn(world, algo):
    if algo == "ppo":
        agent = PpoAgent(corridor.OBS_SPACE, corridor.ACT_SPACE,
                         PpoConfig(n_steps=32, batch_size=128, n_epochs=4, learning_rate=3e-3, gamma=0.95, seed=1))
    else:
        agent = DqnAgent(corridor.OBS_SPACE, corridor.ACT_SPACE,
                         DqnConfig(learning_starts=500, epsilon_decay_steps=2_000, train_freq=8,
                                   target_update_interval=250, gamma=0.95, seed=1))
    session = TrainingSession(agent).with_max_steps(8_000 if algo == "ppo" else 5_000)
    corridor.build(8, seed=1)
    plugin = install({"run": session}, on_end="delete")
    step_world(plugin=plugin, max_ticks=100_000)
    random_mean = greedy_returns(RandomAgent(corridor.ACT_SPACE, seed=0))
    trained_mean = greedy_returns(agent)
    # a perfect runner earns about 1 - 5 x 0.02 = 0.9; a random one loses on average
    assert trained_mean > random_mean + 0.5 and trained_mean > 0.75, (trained_mean, random_mean)
    if algo == "ppo":  # memory stays flat: only live agents keep state
        assert agent._updates > 10 and len(agent._segments) <= 8 and len(agent._pending) <= 8


# -- worlds ---------------------------------------------------------------------------------------

def test_one_session_in_two_worlds_keeps_their_agents_apart(world):
    session = TrainingSession(RecordingAgent())
    for name in (world, world + "-b"):
        esper.switch_world(name)
        for i in range(3):
            spawn("walk", limit=4 + i, tag=float(i) + (10 if name != world else 0))
        install({"walk": session}, reset=reset)
    try:
        for _ in range(12):  # the worlds take turns, as two arenas in one game loop would
            for name in (world, world + "-b"):
                esper.switch_world(name)
                step_world(1)
        keys = set(by_key(session.agent.experiences))
        assert len(keys) == 6 and len({k % 2**32 for k in keys}) == 3  # same entity ids, distinct agent ids
        assert_chained(session.agent.experiences)
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-b")


def test_running_a_plugin_in_the_wrong_world_is_an_error(world):
    spawn("walk", limit=5)
    plugin = install({"walk": TrainingSession(RecordingAgent()).with_max_steps(100)}, reset=reset)
    esper.switch_world(world + "-x")
    try:
        with pytest.raises(WorldError, match=f"installed in esper world '{world}' is being run in world '{world}-x'"):
            step_world(plugin=plugin)
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-x")

    class Switcher(esper.Processor):
        def process(self, *args, **kwargs):
            esper.switch_world(world + "-y")

    esper.add_processor(Switcher(), priority=0)
    try:
        with pytest.raises(WorldError, match=f"being run in world '{world}-y'"):
            step_world(1)
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-y")


# -- decision periods -----------------------------------------------------------------------------

class DiscountingAgent(RecordingAgent):
    gamma = 0.9


def test_decision_period_discounts_within_the_period(world):
    session = TrainingSession(DiscountingAgent())
    spawn("walk", limit=7, decision_period=3)
    install({"walk": session}, reset=reset)
    step_world(7)
    exps = session.agent.experiences
    assert [e.ticks for e in exps] == [3, 3, 1]
    for e in exps[:2]:  # the walker pays 1 + action each tick
        assert e.reward == pytest.approx((1 + e.action) * (1 + 0.9 + 0.81))


def test_dqn_and_ppo_bootstrap_with_gamma_to_the_ticks():
    space = corridor.OBS_SPACE
    dqn = DqnAgent(space, corridor.ACT_SPACE, DqnConfig(gamma=0.9, seed=0))
    next_obs = np.array([[0.5, 0.5]] * 2, dtype=np.float32)
    q_max = float(dqn.target_net(__import__("torch").from_numpy(next_obs)).max(dim=1).values[0])
    targets = dqn.td_targets([1.0, 1.0], next_obs, [0.0, 0.0], ticks=[1, 3]).tolist()
    assert targets == pytest.approx([1.0 + 0.9 * q_max, 1.0 + 0.729 * q_max], rel=1e-5)

    from ecs_rl import Experience
    ppo = PpoAgent(space, corridor.ACT_SPACE, PpoConfig(gamma=0.9, gae_lambda=0.5, n_steps=100, seed=0))
    o = [np.array([0.1 * i, 0.2], dtype=np.float32) for i in range(4)]
    for i, ticks in enumerate([2, 3, 1]):
        ppo.act_batch(o[i][None], agent_ids=[0])
        ppo.observe(Experience(o[i], 0, 1.0, o[i + 1], TERMINATED if i == 2 else RUNNING, 0, ticks))
    _, _, _, adv, _ = ppo._advantages()
    import torch
    v = ppo.net.value(torch.from_numpy(np.stack(o[:3]))).detach().numpy()
    d = [1 + 0.81 * v[1] - v[0], 1 + 0.729 * v[2] - v[1], 1 - v[2]]
    expected = [d[0] + 0.81 * 0.5 * (d[1] + 0.729 * 0.5 * d[2]), d[1] + 0.729 * 0.5 * d[2], d[2]]
    assert adv.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-6)


# -- evaluation -----------------------------------------------------------------------------------

def test_evaluation_counts_unfinished_episodes_and_uses_fresh_seeds(world, tmp_path):
    seeds = []

    def endless(n, seed):  # walkers that never finish, plus one that does
        seeds.append(seed)
        return [spawn("walk", limit=1_000_000 if i else 3, tag=float(i)) for i in range(n)]

    run_dir = TrainingRun.create("walk", "eval", root=tmp_path)
    session = TrainingSession(RecordingAgent()).with_run(run_dir)
    spawn("walk", limit=50)
    plugin = install({"walk": session}, reset=reset,
                     evaluation=Evaluation(endless, every=10, episodes=3, seed=500, max_ticks=20))
    step_world(30)
    assert [r.step for r in plugin.eval_history] == [10, 20, 30]
    assert seeds == [503, 506, 509]  # a fresh block of start seeds for each evaluation
    first = plugin.eval_history[0]
    assert [r.length for r in first.records] == [3, 20, 20] and first.unfinished == 2
    assert [r.status for r in first.records] == [TERMINATED, TRUNCATED, TRUNCATED]
    assert first.ticks == 20 and first.seed == 503
    logged = run_dir.read_eval_episodes()
    assert len(logged) == 9 and {row["seed"] for row in logged} == {503, 506, 509}


def test_run_episodes_scores_the_factorys_agents_while_the_game_respawns(world):
    result = run_episodes(corridor.factory(), {"run": RandomAgent(corridor.ACT_SPACE, seed=0)}, 5, seed=7,
                          max_ticks=10_000)["run"]
    assert len(result.records) == 5 and result.unfinished == 0  # the spawner's newcomers play along unscored
    again = run_episodes(corridor.factory(), {"run": RandomAgent(corridor.ACT_SPACE, seed=0)}, 5, seed=7,
                         max_ticks=10_000)["run"]
    assert [r.total_reward for r in again.records] == [r.total_reward for r in result.records]
    assert esper.current_world == world and not [w for w in esper.list_worlds() if "episodes" in w]



# -- what a stranger's game does (each of these once crashed PPO or fed it wrong data) -----------

def ppo_session():
    agent = PpoAgent(OBS_SPACE, ACT_SPACE, PpoConfig(n_steps=8, batch_size=16, n_epochs=1, seed=0))
    return TrainingSession(agent), agent


def test_an_agent_component_taken_away_and_given_back_starts_a_fresh_episode(world, tmp_path):
    run_dir = TrainingRun.create("walk", "possess", root=tmp_path)
    session, agent = ppo_session()
    session.with_run(run_dir)
    entity = spawn("walk", limit=1000)
    saved = {}
    esper.add_processor(At(3, lambda: saved.setdefault("agent", esper.remove_component(entity, Agent))), -10)
    esper.add_processor(At(6, lambda: esper.add_component(entity, saved["agent"])), -11)
    install({"walk": session}, reset=reset)
    step_world(12)  # PPO once raised "got a transition for agent ... without an explore-mode act"
    rows = run_dir.read_train_episodes()
    assert [(r["status"], r["length"]) for r in rows] == [("truncated", 2)]  # ticks 1-2 recorded, then taken away
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    assert tracker.length == 6 and session.total_steps == 2 + 6  # the new episode counts from its return


def test_a_team_change_closes_one_episode_and_starts_another(world):
    red, red_agent = ppo_session()
    blue, blue_agent = ppo_session()
    entity = spawn("red", limit=1000)
    esper.add_processor(At(3, lambda: esper.add_component(entity, Agent("blue"))), -10)
    install({"red": red, "blue": blue}, reset=reset)
    step_world(8)
    # red's episode closes where the change happened (its decision of tick 3 is dropped); blue's starts at tick 4
    assert red.total_episodes == 1 and red.total_steps == 2 and blue.total_steps == 5
    assert red_agent._pending == {} and red_agent._segments == {} and len(red_agent._closed) == 1


def test_a_cleared_database_closes_old_episodes_and_registers_new_entities(world):
    session = TrainingSession(RecordingAgent())
    esper.add_processor(__import__("walk_world").WalkProcessor(), 0)
    spawn("walk", limit=1000)
    spawn("walk", limit=1000)
    install({"walk": session}, reset=reset)
    step_world(3)
    esper.clear_database()  # a new level: esper starts entity ids again from 1
    a, b = spawn("walk", limit=1000, tag=5.0), spawn("walk", limit=1000, tag=6.0)
    step_world(3)
    assert session.total_episodes == 2  # the old level's two episodes closed
    late = session.agent.experiences[6:]
    assert sorted({e.agent_id for e in late}) == sorted([a, b]) and len(late) == 6
    assert all(e.obs[1] in (5.0, 6.0) for e in late)


def test_switching_worlds_inside_an_episode_callback_is_an_error(world):
    spawn("walk", limit=2)
    plugin = install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    esper.switch_world(world + "-other")
    esper.switch_world(world)
    plugin.on_episode_end(lambda event: esper.switch_world(world + "-other"))
    try:
        with pytest.raises(WorldError, match=f"installed in esper world '{world}' is being run in world '{world}-other'"):
            step_world(2)
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-other")


def test_uninstall_ends_live_episodes_and_a_reinstall_starts_clean(world):
    session, agent = ppo_session()
    entity = spawn("walk", limit=1000, decision_period=4)
    plugin = install({"walk": session}, reset=reset)
    step_world(6)  # mid-way through the second decision period
    plugin.uninstall()
    assert session.total_episodes == 1 and agent._pending == {}
    esper.component_for_entity(entity, Reward).value = 50.0  # earned while nobody was learning
    install({"walk": session}, reset=reset)
    step_world(4)
    assert session.total_steps == 2 and agent._closed and agent._segments  # no stale decision was closed
    assert max(agent._closed[0].rewards + next(iter(agent._segments.values())).rewards) < 50


def test_a_stale_uninstall_leaves_a_later_plugin_alone(world):
    from ecs_rl.ecs.processors import DecideProcessor
    session = TrainingSession(RecordingAgent())
    spawn("walk", limit=1000)
    old = install({"walk": session}, reset=reset)
    esper.switch_world(world + "-menu")
    esper.delete_world(world)
    esper.switch_world(world)  # the level, rebuilt under the same name
    spawn("walk", limit=1000)
    new = install({"walk": session}, reset=reset)
    old.uninstall()
    assert esper.get_processor(DecideProcessor) is new.decide
    steps = session.total_steps
    step_world(2)
    assert session.total_steps == steps + 2
    esper.delete_world(world + "-menu")


def test_a_game_processor_before_decide_cannot_end_episodes_silently(world):
    doomed, leaver = spawn("walk", limit=1000), spawn("walk", limit=1000)
    esper.add_processor(At(3, lambda: esper.delete_entity(leaver)), 200)  # before the plugin's decide (100)
    esper.add_processor(At(5, lambda: setattr(esper.component_for_entity(doomed, Done), "terminated", True)), 201)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset)
    step_world(4)
    assert [ids for _, ids, _ in session.agent.batches] == [[doomed, leaver]] * 2 + [[doomed]] * 2  # it sat out
    assert session.total_episodes == 1 and len(by_key(session.agent.experiences)[leaver]) == 2
    with pytest.raises(ComponentError, match=f"entity {doomed}: Done was set before the plugin's decide processor"):
        step_world(1)


def test_on_end_delete_frees_a_stable_id_in_the_tick_its_episode_ends(world):
    session, agent = ppo_session()
    first = spawn("walk", limit=1000, agent_id=3)
    spawned = []

    def die_and_respawn():
        esper.component_for_entity(first, Done).terminated = True
        spawned.append(spawn("walk", limit=1000, agent_id=3))

    esper.add_processor(At(2, die_and_respawn), -10)
    install({"walk": session}, on_end="delete")
    step_world(5)
    assert not esper.entity_exists(first) and esper.entity_exists(spawned[0])
    assert session.total_episodes == 1 and [s.dones[-1] for s in agent._closed] == [True]
    assert len(agent._segments[3].rewards) == 3


def test_a_reset_request_under_on_end_delete_uses_the_reset_hook(world):
    session = TrainingSession(RecordingAgent())
    entity = spawn("walk", limit=1000)
    install({"walk": session}, reset=reset, on_end="delete")
    step_world(2)
    esper.add_component(entity, ResetRequest(seed=7))
    step_world(1)
    assert esper.entity_exists(entity) and esper.component_for_entity(entity, Walker).position == 0
    assert session.total_episodes == 1


class Respawner(esper.Processor):
    """Keeps ``n`` walkers alive, refilling with short-lived ones (a game's respawn)."""

    def __init__(self, n):
        self.n = n

    def process(self, *args, **kwargs):
        alive = sum(1 for e, _ in esper.get_component(Agent) if esper.entity_exists(e))
        for _ in range(self.n - alive):
            spawn("walk", limit=5)


def test_evaluation_with_a_respawning_game_is_not_biased_to_short_episodes(world):
    def factory(n, seed):  # half the walkers' episodes last 5 ticks, half 60; the game refills with short ones
        esper.add_processor(Respawner(n), -400)
        return [spawn("walk", limit=5 if i % 2 else 60) for i in range(n)]

    result = run_episodes(factory, {"walk": RandomAgent(ACT_SPACE, seed=3)}, 8, seed=0, max_ticks=40)["walk"]
    assert sorted(r.length for r in result.records) == [5] * 4 + [40] * 4  # the factory's 8, long ones included
    assert result.unfinished == 4 and result.ticks == 40
    with pytest.raises(ValueError, match=f"esper world '{world}' already exists"):
        run_episodes(factory, {"walk": RandomAgent(ACT_SPACE, seed=3)}, 8, seed=0, world=world)


def test_ppo_resumed_in_a_new_world_does_not_stitch_the_old_rollout(world, tmp_path):
    run_dir = TrainingRun.create("walk", "resume", root=tmp_path)
    session, agent = ppo_session()
    session.with_run(run_dir)
    spawn("walk", limit=1000)
    install({"walk": session}, reset=reset)
    step_world(5)
    session.close()
    assert [len(s.rewards) for s in agent._segments.values()] == [5]
    resumed_agent = PpoAgent(OBS_SPACE, ACT_SPACE, agent.config)
    TrainingSession(resumed_agent).with_run(TrainingRun.resume(run_dir.path))
    assert resumed_agent._segments == {} and resumed_agent._pending == {}
    assert [len(s.rewards) for s in resumed_agent._closed] == [5]  # kept for the update, closed, bootstrapped


def test_ecs_rl_eval_defaults_to_seeds_training_evaluations_never_use():
    from ecs_rl.cli import build_parser
    from ecs_rl.ecs import HELD_OUT_SEED

    assert build_parser().parse_args(["eval", "some/run"]).seed == HELD_OUT_SEED == 10**9
    evaluation = Evaluation(corridor.factory(), every=1_000, episodes=100)  # a billion steps of training
    assert evaluation.seed_at(10**9) + 100 <= HELD_OUT_SEED


@pytest.mark.parametrize("agent_id, ok", [(np.int64(7), True), (2**32, False), (-1, False), (True, False), ("3", False)])
def test_agent_ids_are_whole_numbers_below_two_to_the_32(world, agent_id, ok):
    session = TrainingSession(RecordingAgent())
    entity = spawn("walk", limit=100, agent_id=agent_id)
    install({"walk": session}, reset=reset)
    if ok:
        step_world(2)
        assert {e.agent_id for e in session.agent.experiences} == {7}
    else:
        with pytest.raises(ComponentError, match=f"entity {entity}: Agent.agent_id must be a whole number"):
            step_world(1)
