"""Plugin behaviours that mutation testing found unchecked: an explicit ``Agent.agent_id`` on the act path."""

from walk_world import ACT_SPACE, OBS_SPACE, RecordingAgent, reset, spawn

from ecs_rl import TrainingSession
from ecs_rl.algorithms import PpoAgent, PpoConfig
from ecs_rl.ecs import install, step_world


def test_an_explicit_agent_id_is_what_the_policy_sees_when_acting_and_learning(world):
    session = TrainingSession(RecordingAgent())
    walker = spawn("walk", limit=3, agent_id=42)
    other = spawn("walk", limit=3, tag=1.0)  # no agent_id: its entity id
    assert walker != 42
    install({"walk": session}, reset=reset)
    step_world(7)
    agent = session.agent
    acted = {i for _, ids, _ in agent.batches for i in ids}
    learned = {e.agent_id for e in agent.experiences}
    assert acted == learned and len(acted) == 2
    assert {i % 2**32 for i in acted} == {42, other}


def test_ppo_learns_from_an_entity_with_an_explicit_agent_id(world):
    config = PpoConfig(n_steps=4, batch_size=4, n_epochs=1, hidden=(8,))
    session = TrainingSession(PpoAgent(OBS_SPACE, ACT_SPACE, config))
    spawn("walk", limit=3, agent_id=5)
    install({"walk": session}, reset=reset)
    step_world(9)  # PPO refuses a transition for an id it did not act for: ids must agree on both paths
    assert session.total_steps == 9 and session.total_episodes == 3
    assert session.agent.updates >= 2


def test_a_controller_s_float64_or_int_box_action_is_accepted_and_an_outside_one_named():
    import gymnasium as gym
    import numpy as np
    import pytest

    from ecs_rl.ecs import ComponentError, ScriptedController
    from ecs_rl.ecs.policies import PolicyEntry

    space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    entry = PolicyEntry("steer", ScriptedController(lambda obs, entity: [0.5, -0.5], space))
    entry.check_action(3, [0.5, -0.5])  # a Python list: float64 values inside the box
    entry.check_action(3, np.array([1, 0]))  # whole numbers
    with pytest.raises(ComponentError, match=r"entity 3: Action \[2.0, 0.0\] from controller 'steer' is outside"):
        entry.check_action(3, [2.0, 0.0])


def test_an_explicit_agent_id_of_zero_is_valid_and_beyond_the_namespace_is_named(world):
    import pytest

    from ecs_rl.ecs import ComponentError

    session = TrainingSession(RecordingAgent())
    spawn("walk", limit=3, agent_id=0)
    install({"walk": session}, reset=reset)
    step_world(2)
    assert {e.agent_id % 2**32 for e in session.agent.experiences} == {0}
    spawn("walk", limit=3, agent_id=2**32)
    with pytest.raises(ComponentError, match=r"Agent.agent_id must be a whole number in \[0, 2\*\*32\), got 4294967296"):
        step_world(1)


def test_install_names_bad_arguments(world):
    import pytest

    with pytest.raises(ValueError, match="^policies must name at least one policy$"):
        install({}, reset=reset)
    for bad in (2.5, -1, True):
        with pytest.raises(ValueError, match="max_steps"):
            install({"walk": TrainingSession(RecordingAgent())}, reset=reset, max_steps=bad)


def test_progress_callbacks_and_freeze_of_a_plugin(world):
    import pytest

    session = TrainingSession(RecordingAgent()).with_max_steps(50)
    spawn("walk", limit=2)
    plugin = install({"walk": session}, reset=reset)
    ended = []
    assert plugin.on_episode_end(ended.append) == ended.append
    step_world(4)
    assert [e.total_reward >= 2 for e in ended] == [True, True] and [e.length for e in ended] == [2, 2]
    progress = plugin.progress()["walk"]
    assert (progress.policy, progress.steps, progress.budget, progress.state) == ("walk", 4, 50, "learning")
    with pytest.raises(ValueError, match=r"freeze\(\) needs a learning policy of this plugin \(walk\), got 'nope'"):
        plugin.freeze("nope")
    plugin.freeze("walk")
    assert plugin.progress()["walk"].state == "frozen"


def test_run_episodes_reports_the_seed_of_its_world(world):
    from walk_world import factory

    from ecs_rl.ecs import run_episodes

    results = run_episodes(factory("walk", limit=3), {"walk": RecordingAgent()}, 2, seed=77, reset=reset)
    assert results["walk"].seed == 77 and [r.length for r in results["walk"].records] == [3, 3]


def test_an_evaluation_world_uses_the_plugin_s_processor_priorities(world):
    import esper
    from walk_world import WalkProcessor

    from ecs_rl.ecs import Evaluation, Priorities

    def build(n, seed):  # the game's processor at 500: only these priorities put it between decide and record
        esper.add_processor(WalkProcessor(), priority=500)
        return [spawn("walk", limit=3, tag=float(i)) for i in range(n)]

    priorities = Priorities(decide=1000, record=400, episode=300, reset=200)
    session = TrainingSession(RecordingAgent())
    build(1, 0)
    plugin = install({"walk": session}, reset=reset, priorities=priorities,
                     evaluation=Evaluation(build, every=1000, episodes=2, max_ticks=20))
    step_world(3)
    results = plugin.evaluate()
    assert [r.length for r in results[0].records] == [3, 3]
    assert [r.total_reward >= 3 for r in results[0].records] == [True, True]


def test_a_batch_where_only_some_entities_have_a_mask_gets_all_legal_rows_for_the_others():
    import gymnasium as gym
    import numpy as np

    from ecs_rl import RandomAgent
    from ecs_rl.ecs.policies import PolicyEntry

    entry = PolicyEntry("walk", RandomAgent(gym.spaces.Discrete(3)))
    batch = entry.stack_masks({7: np.array([True, False, True])}, [5, 7, 9])
    assert batch.dtype == np.bool_ and batch.tolist() == [[True] * 3, [True, False, True], [True] * 3]
    assert entry.stack_masks({}, [5, 7]) is None
