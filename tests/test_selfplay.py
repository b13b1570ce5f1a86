"""Self-play: Elo ratings, the results Hunt reports (catches and escapes), drawing opponents from snapshots,
and ``ecs-rl train hunt --self-play``: snapshots in the runs, ghosts that play them, ratings that change, are
logged per episode and carry across resume."""

import json

import esper
import numpy as np
import pytest

from ecs_rl.algorithms import GreedyPolicy
from ecs_rl.cli import main
from ecs_rl.core.agent import RandomAgent
from ecs_rl.core.ratings import Rating, elo_update, expected_score, play
from ecs_rl.ecs import MATCH_RESULT, ScriptedController, step_world
from ecs_rl.selfplay import SelfPlayConfig, SelfPlayError, Snapshot, SnapshotPool
from ecs_rl.worlds import hunt
from run_files import TEAMS, read, team_runs



@pytest.fixture(autouse=True)
def torch_settings_restored():
    from ecs_rl.algorithms import configure_torch, torch_settings

    before = torch_settings()
    yield
    configure_torch(before.num_threads, before.flush_denormal)


# -- Elo ------------------------------------------------------------------------------------------

def test_elo_moves_the_winner_up_by_what_the_loser_loses_and_upsets_move_more():
    assert elo_update(1200.0, 1200.0) == (1208.0, 1192.0)
    favourite_wins = elo_update(1400.0, 1200.0)
    upset = elo_update(1200.0, 1400.0)
    assert 0 < favourite_wins[0] - 1400.0 < 8.0 < upset[0] - 1200.0 < 16.0
    assert sum(upset) == pytest.approx(2600.0) and sum(favourite_wins) == pytest.approx(2600.0)
    assert elo_update(1200.0, 1200.0, draw=True) == (1200.0, 1200.0)
    assert elo_update(1300.0, 1200.0, draw=True)[0] < 1300.0  # a draw with a weaker player costs
    assert expected_score(1600.0, 1200.0) == pytest.approx(10 / 11)
    a, b = Rating(), Rating(1300.0, 4)
    play(a, b)
    assert a.games == 1 and b.games == 5 and a.rating > 1200.0 > b.rating - 100.0
    with pytest.raises(ValueError, match="rating must be a finite number"):
        Rating(float("nan"))


def test_self_play_settings_are_checked():
    with pytest.raises(SelfPlayError, match="latest_prob must be a number in"):
        SelfPlayConfig(latest_prob=1.5)
    with pytest.raises(SelfPlayError, match="window must be a whole number >= 1"):
        SelfPlayConfig(window=0)


# -- results the Hunt world reports ---------------------------------------------------------------

def stay(observation, entity):
    return 0


def arena_with_results():
    teams = hunt.build(3, seed=0, side=20.0)
    still = ScriptedController(stay, hunt.action_space)
    plugin = hunt.install_hunt({"prey": still, "predator": still, "hawk": still})
    results = []
    handler = results.append
    esper.set_handler(MATCH_RESULT, handler)
    (prey,), (predator,), (hawk,) = teams["prey"], teams["predator"], teams["hawk"]
    place(hawk, hunt.Hawk, 19.9, 19.9)
    return plugin, results, handler, prey, predator


def place(entity, body, x, y):
    b = esper.component_for_entity(entity, body)
    b.x, b.y = x, y
    hunt.observe_all()


def test_a_catch_is_a_win_of_the_predator(world):
    plugin, results, _handler, prey, predator = arena_with_results()
    place(prey, hunt.Prey, 5.0, 5.0)
    place(predator, hunt.Predator, 5.3, 5.0)
    step_world(1, plugin=plugin)
    assert [(r.winner, r.loser, r.kind, r.draw) for r in results] == [(predator, prey, "catch", False)]


def test_a_chased_prey_that_gets_away_wins_and_one_never_chased_does_not(world):
    plugin, results, _handler, prey, predator = arena_with_results()
    place(prey, hunt.Prey, 5.0, 5.0)
    place(predator, hunt.Predator, 5.0 + hunt.CHASE_RADIUS + 0.2, 5.0)  # near, but no chase
    step_world(2, plugin=plugin)
    place(predator, hunt.Predator, 5.0 + hunt.ESCAPE_RADIUS + 1.0, 5.0)
    step_world(2, plugin=plugin)
    assert results == [] and esper.get_component(hunt.Hunt)[0][1].chases == set()

    place(predator, hunt.Predator, 6.0, 5.0)  # a chase starts
    step_world(2, plugin=plugin)
    assert results == [] and esper.get_component(hunt.Hunt)[0][1].chases == {(prey, predator)}
    place(predator, hunt.Predator, 5.0 + hunt.ESCAPE_RADIUS - 0.2, 5.0)  # still within reach: it goes on
    step_world(1, plugin=plugin)
    assert results == []
    place(predator, hunt.Predator, 5.0 + hunt.ESCAPE_RADIUS + 0.2, 5.0)
    step_world(1, plugin=plugin)
    assert [(r.winner, r.loser, r.kind) for r in results] == [(prey, predator, "escape")]
    assert esper.get_component(hunt.Hunt)[0][1].counts["escapes"] == 1


def chase(observation, entity):
    return hunt.hawk_chase(observation[:2], entity)  # a predator's first offset is its nearest prey


def predator_share_of_wins(predator_policy, ticks=1_500, seed=3):
    hunt.build(24, seed=seed)
    plugin = hunt.install_hunt({"prey": RandomAgent(hunt.action_space, seed=seed), "predator": predator_policy})
    wins = {"catch": 0, "escape": 0}

    def count(result):
        wins[result.kind] += 1

    esper.set_handler(MATCH_RESULT, count)
    step_world(ticks, plugin=plugin)
    return wins["catch"] / (wins["catch"] + wins["escape"]), sum(wins.values())


def test_results_rank_a_chasing_predator_above_a_random_one(world):
    chasing, n_chasing = predator_share_of_wins(ScriptedController(chase, hunt.action_space))
    esper.switch_world("default")
    esper.delete_world(world)
    esper.switch_world(world)
    random, n_random = predator_share_of_wins(RandomAgent(hunt.action_space, seed=1))
    assert n_chasing > 50 and n_random > 50
    assert chasing > random + 0.2, (chasing, random)


# -- drawing opponents ----------------------------------------------------------------------------

def test_a_ghost_draws_the_latest_snapshot_with_probability_p_else_one_of_the_window(tmp_path):
    pool = SnapshotPool(tmp_path, "prey")
    pool.snapshots = [Snapshot("prey", 100 * k, f"prey-{100 * k}.pt", Rating()) for k in range(12)]
    rng = np.random.default_rng(0)
    draws = [pool.draw(rng, latest_prob=0.5, window=4).step for _ in range(4_000)]
    counts = {step: draws.count(step) / len(draws) for step in set(draws)}
    assert set(counts) == {800, 900, 1000, 1100}  # only the window
    assert counts[1100] == pytest.approx(0.5 + 0.5 / 4, abs=0.03)
    for step in (800, 900, 1000):
        assert counts[step] == pytest.approx(0.5 / 4, abs=0.03)
    assert {pool.draw(rng, latest_prob=1.0, window=4).step for _ in range(50)} == {1100}


def test_a_resumed_pool_drops_snapshots_taken_after_the_checkpoint(tmp_path):
    pool = SnapshotPool(tmp_path, "prey")
    pool.snapshots = [Snapshot("prey", step, f"prey-{step}.pt", Rating()) for step in (0, 100, 200)]
    assert [s.step for s in pool.forget_after(150)] == [200] and [s.step for s in pool.snapshots] == [0, 100]


def test_each_team_is_split_between_learners_and_ghosts_that_play_its_snapshots(world, tmp_path):
    from collections import Counter

    from ecs_rl import TrainingRun, TrainingSession
    from ecs_rl.algorithms import DqnAgent, presets
    from ecs_rl.ecs import Agent
    from ecs_rl.selfplay import SelfPlay

    sessions, runs = {}, {}
    for k, team in enumerate(TEAMS):
        config = getattr(presets, f"hunt_{team}_dqn")(k, learning_starts=100_000)  # acting only: fast
        runs[team] = TrainingRun.create("split", team, root=tmp_path)
        sessions[team] = TrainingSession(DqnAgent(hunt.observation_spaces[team], hunt.action_space, config)) \
            .with_max_steps(10_000).with_run(runs[team])  # more than 250 ticks use: the world runs on
    hunt.build(24, seed=0)
    selfplay = SelfPlay(sessions, runs, SelfPlayConfig(snapshot_every=200, ghost_share=0.5))
    plugin = hunt.install_hunt({**sessions, **selfplay.ghosts()})
    with selfplay.attach(plugin):
        assert Counter(a.policy for _, a in esper.get_component(Agent)) == {
            "prey": 6, "prey.ghost": 6, "predator": 5, "predator.ghost": 4, "hawk": 3}
        step_world(250, plugin=plugin)  # predators without a catch starve after 150 ticks
        policies = Counter(a.policy for _, a in esper.get_component(Agent))
        for team in TEAMS:  # deaths and respawns keep the split
            assert abs(policies[team] - policies[team + ".ghost"]) <= 2, policies
            opponent = selfplay.opponents[team]
            assert opponent.draws > len(opponent.assigned) > 0  # ghosts that died drew again as new entities
            ghosts = {e for e, a in esper.get_component(Agent) if a.policy == team + ".ghost"}
            assert set(opponent.assigned) <= ghosts  # only live ghosts hold a draw
            periods = [s.step // 200 for s in selfplay.pools[team].snapshots]
            assert periods == list(range(len(periods))) and len(periods) >= 3
    for session in sessions.values():
        session.close()


# -- ecs-rl train hunt --self-play ----------------------------------------------------------------

@pytest.fixture(scope="module")
def self_play_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("selfplay-runs")
    assert main(["train", "hunt", "--self-play", "--steps", "800", "--eval-freq", "100000", "--root", str(root)]) == 0
    return root


def test_self_play_writes_snapshots_that_ghosts_play_and_rates_them(self_play_run):
    for team, run in team_runs(self_play_run).items():
        index = read(run / "snapshots" / "index.json")
        snaps = index["snapshots"]
        assert index["policy"] == team and index["settings"]["every"] == 80
        assert snaps[0]["step"] == 0 and len(snaps) >= 9  # one at the start, then one per 80 steps
        steps = [s["step"] for s in snaps]
        assert [step // 80 for step in steps] == list(range(len(steps)))  # one per period, when it is due
        for s in snaps:
            path = run / "snapshots" / s["file"]
            assert path.name == f"{team}-{s['step']}.pt"
            policy = GreedyPolicy.load(path)  # the agent's own checkpoint format, loaded weights-only
            assert policy.obs_dim == hunt.observation_spaces[team].shape[0]
        assert sum(s["games"] for s in snaps) > 0  # ghosts played snapshots and their results were rated
        assert index["current"]["games"] > 0 and index["current"]["rating"] != 1200.0
        assert index["results"] == index["current"]["games"]
        episodes = [json.loads(line) for line in (run / "train_episodes.jsonl").read_text().splitlines()]
        rated = [e["extras"]["rating"] for e in episodes if "rating" in e["extras"]]
        assert len(rated) == len(episodes) and len(set(rated)) > 1  # each learner episode carries the rating


def test_a_resumed_self_play_run_goes_on_with_its_ratings(self_play_run, tmp_path):
    root = tmp_path / "runs"
    import shutil

    shutil.copytree(self_play_run, root)
    runs = team_runs(root)
    before = {team: read(run / "snapshots" / "index.json") for team, run in runs.items()}
    assert main(["train", "--resume", str(runs["predator"]), "--steps", "960"]) == 0  # no --self-play: kept
    resumed_episodes = {}
    for team, run in runs.items():
        after = read(run / "snapshots" / "index.json")
        old = before[team]["snapshots"]
        assert [s["step"] for s in after["snapshots"][:len(old)]] == [s["step"] for s in old]
        assert after["snapshots"][0]["games"] >= old[0]["games"]
        # the count of rated results goes on from where it was (a fresh start would have only the new ones)
        assert after["current"]["games"] > before[team]["current"]["games"]
        assert after["results"] > before[team]["results"]
        assert after["rng"] != before[team]["rng"] and after["settings"] == before[team]["settings"]
        episodes = [json.loads(line) for line in (run / "train_episodes.jsonl").read_text().splitlines()]
        n_before = read(self_play_run / run.relative_to(root) / "metadata.json")["total_episodes"]
        assert all("rating" in e["extras"] for e in episodes[n_before:])
        resumed_episodes[team] = len(episodes) - n_before
    assert resumed_episodes["prey"] > 0


def test_self_play_needs_a_game_with_two_learning_policies(tmp_path, capsys):
    assert main(["train", "cartpole", "--self-play", "--steps", "10", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "ecs-rl train: error: --self-play needs a game with two learning policies; cartpole has one\n"
    assert not any(tmp_path.iterdir())


def test_a_corrupt_snapshot_index_is_named_on_resume(self_play_run, tmp_path, capsys):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(self_play_run, root)
    index = team_runs(root)["prey"] / "snapshots" / "index.json"
    data = read(index)
    data["snapshots"][1]["file"] = "../../evil.pt"
    index.write_text(json.dumps(data))
    assert main(["train", "--resume", str(team_runs(root)["prey"]), "--steps", "900"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ecs-rl train: error: {index}: corrupt snapshot index") and err.count("\n") == 1
    assert "Traceback" not in err


def test_plot_ratings_draws_both_teams_and_names_a_run_without_self_play(self_play_run, tmp_path, capsys):
    runs = team_runs(self_play_run)
    out = tmp_path / "ratings.png"
    assert main(["plot", "--ratings", str(runs["prey"]), str(runs["predator"]), "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    capsys.readouterr()
    plain = tmp_path / "plain"
    assert main(["train", "hunt", "--steps", "30", "--eval-freq", "100000", "--root", str(plain)]) == 0
    (prey,) = plain.glob("hunt/prey/*")
    capsys.readouterr()
    assert main(["plot", "--ratings", str(prey), "-o", str(tmp_path / "no.png")]) == 2
    assert capsys.readouterr().err == (f"ecs-rl plot: error: {prey} has no self-play snapshots "
                                       f"(no snapshots/index.json)\n")
    assert not (tmp_path / "no.png").exists()


def test_a_run_resumed_after_a_kill_takes_the_ratings_of_its_checkpoint(self_play_run, tmp_path):
    """A kill leaves index.json ahead of latest.pt (it is written every 30 s and at snapshots): a resume takes
    the copy saved with the checkpoint it restarts from, not the ratings of steps it will play again."""
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(self_play_run, root)
    runs = team_runs(root)
    saved = {}
    for team, run in runs.items():
        step = read(run / "metadata.json")["total_steps"]
        saved[team] = read(run / "snapshots" / f"index@{step}.json")  # written with its latest checkpoint
        assert saved[team]["current"] == read(run / "snapshots" / "index.json")["current"]  # a clean stop
        ahead = read(run / "snapshots" / "index.json")  # what a kill after more games would leave behind
        ahead["current"] = {"rating": 9999.0, "games": ahead["current"]["games"] + 500}
        (run / "snapshots" / "index.json").write_text(json.dumps(ahead))
    assert main(["train", "--resume", str(runs["prey"]), "--steps", "900"]) == 0
    for team, run in runs.items():
        after = read(run / "snapshots" / "index.json")
        assert after["current"]["rating"] < 2000.0  # went on from the checkpoint's 1 1xx-1 3xx, not 9999
        assert saved[team]["current"]["games"] <= after["current"]["games"] < saved[team]["current"]["games"] + 500
