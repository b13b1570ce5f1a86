"""Behaviours of the installed plugin a mutation run found unchecked: what a policy acts with, ``evaluate``
(its errors, seed, settings, logs and best), install and uninstall, freezing and unfreezing, ``progress``
and the done signal."""

import esper
import numpy as np
import pytest
from test_ecs_plugin import learner
from walk_world import ACT_SPACE, At, RecordingAgent, WalkProcessor, reset, spawn

from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.core.types import EpisodeStatus, Experience
from ecs_rl.ecs import (
    TRAINING_DONE, ComponentError, Evaluation, Observation, PolicyProgress, Priorities, ResetRequest,
    ScriptedController, install, step_world,
)
from ecs_rl.ecs.processors import DecideProcessor, EpisodeProcessor, RecordProcessor, ResetProcessor


def feed(session, n):
    """Transitions the session learned before this plugin (as a resumed run has)."""
    obs = np.zeros(2, np.float32)
    session.observe_batch([Experience(obs, 0, 1.0, obs) for _ in range(n)])


class DoneCount:
    """Counts ``TRAINING_DONE`` events of the current world (held here: esper keeps a weak reference)."""

    def __init__(self):
        self.n = 0
        esper.set_handler(TRAINING_DONE, self.count)

    def count(self):
        self.n += 1


def bot():
    return ScriptedController(lambda obs, entity: 0, ACT_SPACE)


def test_acting_names_an_unknown_policy_and_every_known_one(world):
    session = learner()
    plugin = install({"walk": session, "other": learner()}, reset=reset)
    assert plugin.acting("walk") is session
    snapshot = RecordingAgent(5)
    plugin.freeze("walk", snapshot)
    assert plugin.acting("walk") is snapshot
    with pytest.raises(ValueError, match=r"^no policy 'run' in this plugin; known: walk, other$"):
        plugin.acting("run")


def test_evaluate_says_what_it_needs_without_an_evaluation_or_with_every_learner_frozen_by_hand(world):
    plugin = install({"walk": learner()}, reset=reset)
    with pytest.raises(RuntimeError, match=r"^evaluate\(\) needs install\(\.\.\., evaluation=Evaluation\(factory, "
                                           r"\.\.\.\)\)$"):
        plugin.evaluate()
    plugin.uninstall()
    plugin = install({"walk": learner()}, reset=reset, evaluation=Evaluation(lambda n, seed: [], every=10))
    plugin.freeze("walk")
    with pytest.raises(ValueError, match=r"^evaluate\(\): every learning policy is frozen by hand; unfreeze one or "
                                         r"name it \(evaluate\(\[plugin\.policies\[name\]\]\)\)$"):
        plugin.evaluate()


def test_evaluate_scores_a_policy_frozen_by_hand_when_named_and_refuses_one_that_does_not_learn(world):
    """The message above says "name it": naming the frozen policy's entry scores its session greedily."""
    walk = learner()
    feed(walk, 5)
    plugin = install({"walk": walk, "bot": bot()}, reset=reset,
                     evaluation=Evaluation(lambda n, seed: [spawn("walk", limit=3) for _ in range(n)], every=10,
                                           episodes=2))
    plugin.freeze("walk", RecordingAgent(1))
    (result,) = plugin.evaluate([plugin.policies["walk"]])
    assert (result.policy, result.step, len(result.records)) == ("walk", 5, 2)
    assert [r.length for r in result.records] == [3, 3] and plugin.eval_history == [result]
    assert walk.best_eval_reward == result.mean_reward
    with pytest.raises(ValueError, match=r"^evaluate\(\) scores learning policies of this plugin \(walk\); "
                                         r"got 'bot'$"):
        plugin.evaluate([plugin.policies["bot"]])


def test_evaluate_plays_at_the_seed_of_the_furthest_policy_with_the_evaluation_s_settings_and_logs_it(world, tmp_path):
    seen = {"seeds": [], "dt": [], "resets": [], "priorities": []}

    class Clock(esper.Processor):
        def process(self, dt):
            seen["dt"].append(dt)

    def hook(entity, seed):
        seen["resets"].append(seed)
        reset(entity, seed)

    def build(n, seed):  # per policy: n walkers (run's second never ends), and a bot that is never scored
        seen["seeds"].append(seed)
        esper.add_processor(Clock())
        esper.add_processor(WalkProcessor(), priority=500)  # between this plugin's decide and record
        for i in range(n):
            spawn("walk", limit=3, tag=float(i))
            spawn("run", limit=3 if i == 0 else 10**6, tag=float(i))
        scripted = spawn("bot", limit=10**6)
        esper.add_processor(At(1, lambda: (
            esper.add_component(scripted, ResetRequest(seed=9)),
            seen["priorities"].append([esper.get_processor(k).priority for k in
                                       (DecideProcessor, RecordProcessor, EpisodeProcessor, ResetProcessor)]))), 500)

    run_dir = TrainingRun.create("walk", "eval", root=tmp_path)
    walk, run = learner().with_run(run_dir), learner()
    feed(walk, 3)
    feed(run, 12)
    esper.add_processor(WalkProcessor(), priority=500)
    spawn("walk", limit=1000)
    spawn("run", limit=1000)
    plugin = install({"walk": walk, "run": run, "bot": bot()}, reset=hook,
                     priorities=Priorities(decide=1000, record=400, episode=300, reset=200),
                     evaluation=Evaluation(build, every=10, episodes=2, seed=100, dt=0.25, max_ticks=40))
    step_world(1)
    assert plugin.eval_history == [] and (walk.total_steps, run.total_steps) == (4, 13)

    results = plugin.evaluate()  # both learners, at the furthest one's step: seed 100 + (13 // 10) * 2
    assert [r.policy for r in results] == ["walk", "run"] and plugin.eval_history == results
    assert [(r.step, r.seed, r.ticks, r.mode) for r in results] == [(4, 102, 40, "episodes"), (13, 102, 40, "episodes")]
    assert [(r.length, r.status) for r in results[0].records] == [(3, EpisodeStatus.TERMINATED)] * 2
    assert [r.length for r in results[1].records] == [3, 40] and results[1].unfinished == 1
    assert seen["seeds"] == [102] and set(seen["dt"]) == {0.25} and len(seen["dt"]) == 40
    assert seen["resets"] == [9] and seen["priorities"] == [[1000, 400, 300, 200]]
    logged = run_dir.read_eval_episodes()
    assert [(row["step"], row["policy"], row["seed"], row["eval_ticks"], row["length"]) for row in logged] == \
        [(4, "walk", 102, 40, 3)] * 2
    assert [row["total_reward"] for row in logged] == [r.total_reward for r in results[0].records]
    assert walk.best_eval_reward == results[0].mean_reward and run_dir.best_path.exists()
    assert run.best_eval_reward == results[1].mean_reward

    again = plugin.evaluate([plugin.policies["walk"]])  # named: only it is scored, the others play along
    assert [(r.policy, r.step, r.seed, r.ticks) for r in again] == [("walk", 4, 100, 3)]
    assert plugin.eval_history == results + again and seen["seeds"] == [102, 100]
    assert len(run_dir.read_eval_episodes()) == 4 and run.best_eval_reward == results[1].mean_reward


def test_an_evaluation_in_ticks_mode_with_no_episode_of_the_policy_records_nothing_and_saves_no_best(world):
    session = learner()
    plugin = install({"walk": session}, reset=reset, evaluation=Evaluation(lambda n, seed: [], every=10, ticks=5))
    (result,) = plugin.evaluate()
    assert (result.policy, result.records, result.ticks, result.mode, result.step) == ("walk", [], 5, "ticks", 0)
    assert session.best_eval_reward == -np.inf and plugin.eval_history == [result]


def test_install_puts_each_processor_at_its_priority_and_refuses_a_second_plugin_naming_the_world(world):
    plugin = install({"walk": learner()}, reset=reset, priorities=Priorities(decide=7, record=-7, episode=-8, reset=-9))
    assert plugin.world == world
    kinds = (DecideProcessor, RecordProcessor, EpisodeProcessor, ResetProcessor)
    assert [esper.get_processor(k) for k in kinds] == [plugin.decide, plugin.record, plugin.episode,
                                                       plugin.reset_processor]
    assert [esper.get_processor(k).priority for k in kinds] == [7, -7, -8, -9]
    with pytest.raises(RuntimeError, match=rf"^an ecs-rl plugin is already installed in esper world '{world}'$"):
        install({"walk": learner()}, reset=reset)


def test_a_session_installed_at_its_budget_is_done_at_once_but_not_when_it_only_plays(world):
    spent = learner(steps=3)
    feed(spent, 3)
    spawn("walk", limit=1000)
    done = DoneCount()
    plugin = install({"walk": spent}, reset=reset)
    assert plugin.done is True and done.n == 1 and plugin.frozen == {"walk"}
    assert plugin.progress() == {"walk": PolicyProgress("walk", 3, 3, "budget", 0)}
    step_world(3)  # the done check runs every tick: the event is sent once
    assert done.n == 1 and spent.total_steps == 3
    snapshot = RecordingAgent(1)
    plugin.freeze("walk", snapshot)  # a spent policy given another policy to play with: still spent, not frozen
    assert plugin.acting("walk") is snapshot and plugin.progress()["walk"].state == "budget"
    plugin.uninstall()
    player = install({"walk": spent}, reset=reset, learning=False)
    assert player.done is False and player.frozen == frozenset() and done.n == 1


def test_uninstall_from_another_world_removes_the_four_processors_there_and_ends_the_live_episode(world):
    session = learner()
    spawn("walk", limit=1000)
    plugin = install({"walk": session}, reset=reset)
    step_world(2)
    menu = world + "-menu"
    esper.switch_world(menu)
    plugin.uninstall()
    assert esper.current_world == menu and plugin.world is None and session.total_episodes == 1
    plugin.uninstall()  # again: nothing left to do
    esper.switch_world(world)
    esper.delete_world(menu)
    assert [esper.get_processor(k) for k in (DecideProcessor, RecordProcessor, EpisodeProcessor, ResetProcessor)] \
        == [None] * 4
    assert session.total_episodes == 1
    install({"walk": session}, reset=reset)  # the world takes a new plugin
    step_world(1)
    assert session.total_steps == 3


def test_uninstall_does_not_freeze_a_policy_or_announce_done_as_it_leaves(world):
    """A session that reached its budget elsewhere (another world, a direct ``observe``) while this plugin was
    installed: leaving the world ends the live episodes but does not judge the budgets."""
    session = learner(steps=5)
    spawn("walk", limit=1000)
    done = DoneCount()
    plugin = install({"walk": session}, reset=reset)
    step_world(2)
    feed(session, 3)
    plugin.uninstall()
    assert plugin.done is False and done.n == 0 and plugin.frozen == frozenset()
    assert plugin.progress()["walk"].state == "learning" and session.total_episodes == 1


def test_freeze_and_unfreeze_name_the_learning_policies_or_none(world):
    plugin = install({"walk": learner(), "run": learner(), "bot": bot()}, reset=reset)
    for call in ("freeze", "unfreeze"):
        with pytest.raises(ValueError, match=rf"^{call}\(\) needs a learning policy of this plugin \(walk, run\), "
                                             r"got 'bot'$"):
            getattr(plugin, call)("bot")
    plugin.uninstall()
    lone = install({"bot": bot()}, reset=reset)
    for call in ("freeze", "unfreeze"):
        with pytest.raises(ValueError, match=rf"^{call}\(\) needs a learning policy of this plugin \(none\), "
                                             r"got 'walk'$"):
            getattr(lone, call)("walk")


def test_freeze_refuses_a_policy_that_learns_or_decides_per_entity_naming_its_type(world):
    plugin = install({"walk": learner()}, reset=reset)
    for policy, kind in ((learner(), "TrainingSession"), (bot(), "ScriptedController")):
        with pytest.raises(TypeError, match=rf"^freeze\('walk', policy\): the policy must act with act_batch\(\) "
                                            rf"and not learn, got {kind}$"):
            plugin.freeze("walk", policy)
    assert plugin.frozen == frozenset() and plugin.progress()["walk"].state == "learning"


class Blind:
    """A frozen policy that knows no spaces: it acts 0 for every row."""

    def act_batch(self, obs, mode, ids):
        return np.zeros(len(obs), np.int64)


def test_freezing_forgets_live_agents_once_and_a_swap_keeps_the_frozen_policy_s_stats_and_checks(world):
    agent = RecordingAgent()
    session = TrainingSession(agent)
    entity = spawn("walk", limit=2)
    plugin = install({"walk": session}, reset=reset)
    step_world(1)  # mid-episode
    plugin.freeze("walk")
    assert agent.forgotten == [entity] and plugin.frozen == {"walk"}
    assert plugin.progress() == {"walk": PolicyProgress("walk", 1, None, "frozen", 0)}
    step_world(1)  # the episode ends while frozen: counted in the frozen policy's stats, not the session's
    stats = plugin.policies["walk"].stats
    assert stats.episodes == 1 and stats.get("mean_length") == 2 and session.total_episodes == 0
    blind = Blind()
    plugin.freeze("walk", blind)  # a swap: the same stats go on counting, nothing more is forgotten
    assert plugin.acting("walk") is blind and agent.forgotten == [entity]
    assert plugin.policies["walk"].stats is stats and plugin.progress()["walk"].state == "frozen"
    step_world(2)
    assert stats.episodes == 2 and session.total_steps == 1
    plugin.unfreeze("walk")
    assert plugin.acting("walk") is session and plugin.frozen == frozenset() and agent.forgotten == [entity]
    step_world(1)
    assert session.total_steps == 2
    plugin.freeze("walk", blind)  # a fresh freeze: fresh stats, the live agent forgotten again
    assert plugin.policies["walk"].stats.episodes == 0 and agent.forgotten == [entity, entity]
    esper.add_processor(At(2, lambda: setattr(esper.component_for_entity(entity, Observation), "value",
                                              np.zeros(3, np.float32))), -50)
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Observation.* has shape \(3,\), policy 'walk' "):
        step_world(3)  # the frozen policy keeps the learner's observation shape, and its name


def test_unfreeze_refuses_a_spent_budget_naming_it_and_a_bigger_budget_learns_until_done_again(world):
    session = learner(steps=2)
    spawn("walk", limit=1000)
    done = DoneCount()
    plugin = install({"walk": session, "bot": bot()}, reset=reset)
    plugin.unfreeze("walk")  # learning already: nothing to do
    assert plugin.frozen == frozenset() and plugin.acting("walk") is session
    step_world(2)
    assert plugin.done is True and done.n == 1
    assert plugin.progress() == {"walk": PolicyProgress("walk", 2, 2, "budget", 0)}
    with pytest.raises(ValueError, match=r"^policy 'walk' reached its budget of 2 steps; give it more with "
                                         r"session\.with_max_steps\(n\) before unfreeze\(\)$"):
        plugin.unfreeze("walk")
    session.with_max_steps(4)
    plugin.unfreeze("walk")
    assert plugin.done is False and plugin.progress()["walk"].state == "learning" and done.n == 1
    step_world(1)
    assert plugin.done is False and session.total_steps == 3
    step_world(1)
    assert plugin.done is True and done.n == 2 and session.total_steps == 4


def test_unfreeze_under_a_spent_plugin_budget_stays_done_and_says_so_again(world):
    spawn("walk", limit=1000)
    done = DoneCount()
    plugin = install({"walk": learner()}, reset=reset, max_steps=3)
    step_world(2)
    assert plugin.done is False and plugin.steps == 2
    step_world(1)
    assert plugin.done is True and done.n == 1 and plugin.steps == 3
    plugin.freeze("walk")
    plugin.unfreeze("walk")
    assert plugin.done is True and done.n == 2


def test_unfreeze_sets_the_next_evaluation_after_the_steps_learned_while_frozen(world):
    session = learner()
    spawn("walk", limit=1000)
    plugin = install({"walk": session}, reset=reset,
                     evaluation=Evaluation(lambda n, seed: [spawn("walk", limit=2) for _ in range(n)], every=10,
                                           episodes=1))
    step_world(5)
    plugin.freeze("walk")
    feed(session, 8)  # learned elsewhere while frozen: 13 steps
    plugin.unfreeze("walk")
    step_world(6)
    assert session.total_steps == 19 and plugin.eval_history == []
    step_world(1)
    assert [r.step for r in plugin.eval_history] == [20]


def test_done_waits_for_every_learner_not_frozen_by_hand(world):
    """Spent beside one still learning: not done; all frozen by hand: never done; spent beside frozen: done;
    a plugin of controllers only: never done."""
    spawn("walk", limit=1000)
    spawn("run", limit=1000)
    done = DoneCount()
    plugin = install({"walk": learner(steps=2), "run": learner()}, reset=reset)
    step_world(3)
    assert plugin.progress()["walk"].state == "budget" and plugin.done is False and done.n == 0
    plugin.freeze("run")
    step_world(1)
    assert plugin.done is True and done.n == 1
    plugin.uninstall()
    hand = install({"walk": learner(), "run": learner()}, reset=reset)
    hand.freeze("walk")
    hand.freeze("run")
    step_world(2)
    assert hand.done is False and done.n == 1
    hand.uninstall()
    bots = install({"walk": bot(), "run": bot()}, reset=reset)
    step_world(2)
    assert bots.done is False and bots.progress() == {} and done.n == 1


def test_progress_reports_each_learning_policy_s_steps_budget_state_and_episodes(world):
    spawn("walk", limit=2)
    spawn("run", limit=3)
    spawn("bot", limit=2)
    plugin = install({"walk": learner(steps=50), "run": learner(), "bot": bot()}, reset=reset)
    step_world(4)
    assert plugin.progress() == {"walk": PolicyProgress("walk", 4, 50, "learning", 2),
                                 "run": PolicyProgress("run", 4, None, "learning", 1)}
