"""The esper plugin: the ECS frame loop drives training (transitions, batching, episodes, evaluation)."""


import warnings

import esper
import numpy as np
import pytest
from walk_world import ACT_SPACE, RecordingAgent, factory, reset, spawn

from ecs_rl import EpisodeStatus, TrainingRun, TrainingSession
from ecs_rl.ecs import (
    EPISODE_END, Action, Agent, ComponentError, Evaluation, FixedStep, HumanController, Observation,
    ObservationCastWarning, ResetRequest, Reward, ScriptedController, install, step_world,
)
from ecs_rl.ecs.processors import DecideProcessor


def learner(seed=0, steps=None):
    session = TrainingSession(RecordingAgent(seed))
    return session.with_max_steps(steps) if steps is not None else session


def test_transitions_carry_the_final_observation_and_status(world):
    session = learner()
    term = spawn("walk", limit=3, tag=1.0)
    trunc = spawn("walk", limit=2, tag=2.0, truncate=True)
    install({"walk": session}, reset=reset)
    step_world(4)
    by_agent = {}
    for exp in session.agent.experiences:
        by_agent.setdefault(exp.agent_id, []).append(exp)
    t = by_agent[term]
    assert [e.obs[0] for e in t] == [0, 1, 2, 0] and [e.next_obs[0] for e in t] == [1, 2, 3, 1]
    assert [e.status for e in t[:3]] == [EpisodeStatus.RUNNING] * 2 + [EpisodeStatus.TERMINATED]
    assert all(e.obs[1] == 1.0 for e in t)  # never mixed up with the other entity
    assert [e.reward for e in t] == [1.0 + e.action for e in t]
    u = by_agent[trunc]
    assert [e.status for e in u] == [EpisodeStatus.RUNNING, EpisodeStatus.TRUNCATED] * 2
    assert [e.next_obs[0] for e in u] == [1, 2, 1, 2]  # true final obs [2], then a fresh episode from [0]
    assert esper.component_for_entity(term, Observation).value[0] == 1  # reset after tick 3, stepped on tick 4


def test_one_batched_decision_per_tick_for_many_entities(world):
    session = learner()
    entities = [spawn("walk", limit=1000, tag=float(i)) for i in range(32)]
    install({"walk": session}, reset=reset)
    step_world(5)
    batches = session.agent.batches
    assert len(batches) == 5 and all(b[0].shape == (32, 2) for b in batches)
    assert sorted(batches[0][1]) == sorted(entities)
    for obs, ids, _ in batches:  # row k of the batch is agent ids[k]'s observation
        tags = {e: esper.component_for_entity(e, Observation).value[1] for e in entities}
        assert [row[1] for row in obs] == [tags[i] for i in ids]
    assert session.total_steps == 32 * 5


def test_interleaved_episode_ends_are_logged_per_entity(world, tmp_path):
    run_dir = TrainingRun.create("walk", "v1", root=tmp_path)
    session = learner().with_run(run_dir)
    lengths = {spawn("walk", limit=n): n for n in (2, 3, 5)}
    seen = []

    def on_end(event):  # esper keeps handlers by weak reference: hold it in a name
        seen.append(event)

    install({"walk": session}, reset=reset)
    esper.set_handler(EPISODE_END, on_end)
    step_world(30)
    rows = run_dir.read_train_episodes()
    assert len(rows) == session.total_episodes == 15 + 10 + 6
    for row in rows:
        assert row["length"] == lengths[row["entity"]] and row["agent_id"] == row["entity"]
        assert row["status"] == "terminated"
    assert [e.length for e in seen] == [r["length"] for r in rows]


def test_decision_period_repeats_the_action_and_sums_rewards(world):
    session = learner()
    spawn("walk", limit=7, decision_period=3)
    install({"walk": session}, reset=reset)
    step_world(7)
    exps = session.agent.experiences
    assert [(e.obs[0], e.next_obs[0]) for e in exps] == [(0, 3), (3, 6), (6, 7)]  # last one cut by the episode end
    assert [e.reward for e in exps] == [3 * (1 + e.action) for e in exps[:2]] + [1 + exps[2].action]
    assert len(session.agent.batches) == 3


def test_evaluation_runs_in_its_own_world_and_saves_best(world, tmp_path):
    run_dir = TrainingRun.create("walk", "eval", root=tmp_path)
    session = learner().with_run(run_dir)
    train_entity = spawn("walk", limit=1000, tag=7.0)
    plugin = install({"walk": session}, reset=reset, evaluation=Evaluation(factory(limit=4), every=10, episodes=3))
    step_world(10)
    assert [r.step for r in plugin.eval_history] == [10]
    (result,) = plugin.eval_history
    assert len(result.records) == 3 and all(r.length == 4 for r in result.records)
    assert result.mean_reward == pytest.approx(np.mean([r.total_reward for r in result.records]))
    # greedy mode in the eval world, nothing observed from it, and the training world untouched
    assert [b[2].value for b in session.agent.batches].count("exploit") == 4
    assert session.total_steps == 10 and len(session.agent.experiences) == 10
    assert esper.current_world == world and [w for w in esper.list_worlds() if ".eval" in w] == []
    assert esper.component_for_entity(train_entity, Observation).value.tolist() == [10.0, 7.0]
    assert run_dir.best_path.exists() and session.best_eval_reward == result.mean_reward
    assert len(run_dir.read_eval_episodes()) == 3


def test_checkpoint_milestones_and_done_signal(world, tmp_path):
    run_dir = TrainingRun.create("walk", "ckpt", root=tmp_path)
    session = learner(steps=100).with_run(run_dir).with_checkpoint_freq(25).with_keep_checkpoints(2)
    for i in range(5):
        spawn("walk", limit=6, tag=float(i))
    plugin = install({"walk": session}, reset=reset)
    ticks = step_world(plugin=plugin, max_ticks=1000)
    assert plugin.done and ticks == 20 and session.total_steps == 100
    assert [s for s, _ in run_dir.numbered_checkpoints()] == [75, 100]
    assert run_dir.latest_path.exists()


def test_two_sessions_and_a_scripted_controller_share_a_world(world):
    red, blue = learner(1), learner(2)
    scripted = ScriptedController(lambda obs, entity: 1, ACT_SPACE)
    reds = {spawn("red", limit=3) for _ in range(3)}
    blues = {spawn("blue", limit=4) for _ in range(2)}
    bot = spawn("bot", limit=5)
    plugin = install({"red": red, "blue": blue, "bot": scripted}, reset=reset)
    step_world(20)
    assert {e.agent_id for e in red.agent.experiences} == reds
    assert {e.agent_id for e in blue.agent.experiences} == blues
    assert esper.component_for_entity(bot, Action).value == 1
    assert red.total_episodes == 3 * 6 and blue.total_episodes == 2 * 5
    assert plugin.policies["bot"].stats.episodes == 4  # scripted episodes are tracked, never trained on
    assert plugin.policies["bot"].stats.get("mean_reward") == 10.0  # 5 ticks x (1 + action 1)


def test_human_controller_beside_a_learner(world):
    human = HumanController(ACT_SPACE, default=0)
    player = spawn("human", limit=100)
    spawn("walk", limit=100)
    install({"human": human, "walk": learner()}, reset=reset)
    step_world(1)
    assert esper.component_for_entity(player, Action).value == 0
    human.set_action(1)
    step_world(1)
    assert esper.component_for_entity(player, Action).value == 1


def test_deleted_entity_closes_its_episode_as_truncated(world, tmp_path):
    run_dir = TrainingRun.create("walk", "del", root=tmp_path)
    session = learner().with_run(run_dir)
    doomed = spawn("walk", limit=100)
    spawn("walk", limit=100)
    install({"walk": session}, reset=reset)
    step_world(3)
    esper.delete_entity(doomed)
    step_world(2)
    rows = run_dir.read_train_episodes()
    assert len(rows) == 1 and rows[0]["status"] == "truncated" and rows[0]["length"] == 3
    assert rows[0]["agent_id"] == doomed and rows[0]["extras"]["entity_removed"] == 1.0
    assert session.agent.forgotten == [doomed]
    assert session.total_steps == 3 * 2 + 2


def test_manual_reset_request_truncates_a_live_episode(world):
    session = learner()
    entity = spawn("walk", limit=100)
    install({"walk": session}, reset=reset)
    step_world(2)
    esper.add_component(entity, ResetRequest())
    step_world(1)
    assert session.total_episodes == 1 and session.agent.experiences[-1].status is EpisodeStatus.TRUNCATED
    assert esper.component_for_entity(entity, Observation).value[0] == 0
    step_world(1)
    assert session.agent.experiences[-1].obs[0] == 0


@pytest.mark.parametrize("bad, message", [
    (np.zeros(3, dtype=np.float32), r"entity \d+: Observation has shape \(3,\), policy 'walk' expects \(2,\)"),
    (np.array([np.nan, 0.0], dtype=np.float32), r"entity \d+: Observation is not finite"),
    (np.array(["a", "b"]), r"entity \d+: Observation must be a numeric numpy array"),
    ([0.0, 0.0], r"entity \d+: Observation must be a numeric numpy array"),
])
def test_bad_observations_name_entity_and_component(world, bad, message):
    good = spawn("walk", limit=10)
    entity = spawn("walk", limit=10)
    esper.component_for_entity(entity, Observation).value = bad
    install({"walk": learner()}, reset=reset)
    with pytest.raises(ComponentError, match=message) as info:
        step_world(1)
    assert str(entity) in str(info.value).split(":")[0] and str(good) not in str(info.value).split(":")[0]


def test_float64_and_int64_observations_are_cast_to_the_space_dtype_with_one_warning_per_policy(world):
    class Widen(esper.Processor):  # a game that writes float64 (walkers) and int64 (runners) observations
        def process(self, *args, **kwargs):
            for entity, (agent, obs) in esper.get_components(Agent, Observation):
                obs.value = obs.value.astype(np.float64 if agent.policy == "walk" else np.int64)

    walkers = [spawn("walk", limit=3, tag=0.5) for _ in range(3)]
    runners = [spawn("run", limit=4) for _ in range(2)]
    for entity in walkers + runners:  # the first observations too
        obs = esper.component_for_entity(entity, Observation)
        obs.value = obs.value.astype(np.float64 if entity in walkers else np.int64)
    walk, run = learner(1), learner(2)
    install({"walk": walk, "run": run}, reset=reset)
    esper.add_processor(Widen(), priority=-50)  # after the game, before the record processor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step_world(40)
    cast = [w for w in caught if issubclass(w.category, ObservationCastWarning)]
    assert sorted(str(w.message).split(":")[0] for w in cast) == ["policy 'run'", "policy 'walk'"]  # once each
    said = {str(w.message).split(":")[0]: str(w.message) for w in cast}
    assert "dtype float64; observations are cast to float32" in said["policy 'walk'"]
    assert "dtype int64; observations are cast to float32" in said["policy 'run'"]
    for session in (walk, run):  # what the learner got: float32 batches and transitions, values kept
        assert {batch.dtype for batch, _, _ in session.agent.batches} == {np.dtype(np.float32)}
        assert {e.obs.dtype for e in session.agent.experiences} == {np.dtype(np.float32)}
        assert {e.next_obs.dtype for e in session.agent.experiences} == {np.dtype(np.float32)}
    assert walk.agent.batches[5][0][0].tolist() == [walk.agent.batches[5][0][0][0], 0.5]
    assert max(b[0].max() for b in run.agent.batches) == 3.0  # decided at 0..3, ended at 4
    assert max(e.next_obs[0] for e in run.agent.experiences) == 4.0


def test_bad_rewards_actions_and_policies_are_named(world, tmp_path):
    run_dir = TrainingRun.create("walk", "bad", root=tmp_path)
    session = learner().with_run(run_dir)
    entity = spawn("walk", limit=2)
    plugin = install({"walk": session, "bot": ScriptedController(lambda o, e: 5, ACT_SPACE)}, reset=reset)
    step_world(4)  # two episodes logged
    logged = run_dir.train_log_path.read_text()
    esper.component_for_entity(entity, Reward).value = float("inf")
    with pytest.raises(ComponentError, match=f"entity {entity}: Reward must be a finite number, got inf"):
        step_world(1)
    assert run_dir.train_log_path.read_text() == logged  # nothing already written is lost
    plugin.uninstall()

    bot = spawn("bot", limit=3)
    plugin = install({"walk": learner(), "bot": ScriptedController(lambda o, e: 5, ACT_SPACE)}, reset=reset)
    with pytest.raises(ComponentError, match=f"entity {bot}: Action 5 from controller 'bot' is outside"):
        step_world(1)
    plugin.uninstall()
    esper.delete_entity(bot, immediate=True)

    stray = spawn("nobody", limit=3)
    install({"walk": learner()}, reset=reset)
    with pytest.raises(ComponentError, match=f"entity {stray}: Agent names unknown policy 'nobody'; known: walk"):
        step_world(1)


@pytest.mark.parametrize("bad", [True, np.bool_(False)])
def test_a_bool_is_not_a_discrete_action(world, bad):
    bot = spawn("bot", limit=3)
    install({"bot": ScriptedController(lambda o, e: bad, ACT_SPACE)}, reset=reset)
    with pytest.raises(ComponentError, match=f"entity {bot}: Action {bad!r} from controller 'bot' is a bool"):
        step_world(1)


@pytest.mark.parametrize("bad", ["1.0", b"1.0"])
def test_a_string_reward_is_refused(world, bad):
    class TextReward(esper.Processor):  # a game that writes its reward as text
        def process(self, *args, **kwargs):
            esper.component_for_entity(entity, Reward).value = bad

    entity = spawn("walk", limit=5)
    install({"walk": learner()}, reset=reset)
    esper.add_processor(TextReward(), priority=-50)  # after the game, before the record processor
    with pytest.raises(ComponentError, match=f"entity {entity}: Reward must be a finite number, got {bad!r}"):
        step_world(1)


def test_agent_missing_components_is_named(world):
    entity = esper.create_entity(Agent("walk"), Observation(np.zeros(2, dtype=np.float32)))
    install({"walk": learner()}, reset=reset)
    with pytest.raises(ComponentError, match=f"entity {entity}: has Agent but lacks Action, Reward, Done, EpisodeTracker"):
        step_world(1)


def test_worlds_do_not_leak_and_uninstall_removes_everything(world):
    a, b = learner(1), learner(2)
    spawn("walk", limit=3)
    plugin_a = install({"walk": a}, reset=reset)
    with pytest.raises(RuntimeError, match="already installed"):
        install({"walk": a}, reset=reset)
    esper.switch_world(world + "-other")
    try:
        spawn("walk", limit=5)
        spawn("walk", limit=5)
        install({"walk": b}, reset=reset)
        step_world(10)
        esper.switch_world(world)
        step_world(3)
        assert a.total_steps == 3 and b.total_steps == 20
        assert a.total_episodes == 1 and b.total_episodes == 4
        plugin_a.uninstall()
        assert esper.get_processor(DecideProcessor) is None
        step_world(3)
        assert a.total_steps == 3  # nothing drives it any more
        esper.switch_world(world + "-other")
        assert esper.get_processor(DecideProcessor) is not None
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-other")


def test_fixed_step_decouples_ticks_from_frames():
    clock = FixedStep(rate_hz=50)
    assert [clock.advance(1 / 60) for _ in range(6)] == [0, 1, 1, 1, 1, 1]
    assert clock.advance(0.1, speed=4.0) == 20
    assert FixedStep(50, max_ticks_per_frame=5).advance(10.0) == 5
    with pytest.raises(ValueError, match="step_world\\(\\) needs"):
        step_world()
