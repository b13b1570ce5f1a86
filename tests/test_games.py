"""Your own game, first class: the public game spec, the CLI on a game outside the package (real
subprocesses), entry points, ecs_rl.evaluate, episode-end callbacks, and decisions vs ticks."""

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import esper
import numpy as np
import pytest

import ecs_rl
from ecs_rl import Game, GameSpecError, TrainingRun, TrainingSession, load_game
from ecs_rl.cli import main
from ecs_rl.ecs import EPISODE_END, ScriptedController, install, step_world
from ecs_rl.games import canonical_spec, registered_games

from walk_world import RecordingAgent, reset as walk_reset, spawn

DEMO = Path(__file__).resolve().parent.parent / "demos" / "catch.py"


def ecs_rl_cli(*args, cwd, env=None, timeout=300):
    """``python -m ecs_rl ARGS`` in a fresh process (headless pygame)."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", **(env or {})}
    return subprocess.run([sys.executable, "-m", "ecs_rl", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def mean_rewards(report: str) -> list[float]:
    return [float(x) for x in re.findall(r"^mean_reward\s+(-?[\d.,]+)", report, flags=re.M)]


# -- a game module outside the package, through the command line --------------------------------

def test_a_game_file_outside_the_package_trains_evaluates_watches_and_resumes(tmp_path):
    game_file = tmp_path / "mygame" / "game.py"
    game_file.parent.mkdir()
    shutil.copy(DEMO, game_file)  # the tutorial's game, written where the package knows nothing of it
    work = tmp_path / "work"
    work.mkdir()
    rel = os.path.relpath(game_file, work)
    done = ecs_rl_cli("train", f"{rel}:make_game", "--steps", 3000, "--eval-freq", 1000, "--full", "--root", "runs",
                      cwd=work)
    assert done.returncode == 0, done.stderr
    run = next((work / "runs" / "catch" / "dqn").iterdir())
    config = json.loads((run / "config.json").read_text())
    assert config["game"] == f"{game_file.resolve()}:make_game"  # an absolute spec: any directory finds it

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    evaluated = ecs_rl_cli("eval", run, "--baseline", "--episodes", 20, cwd=elsewhere)
    assert evaluated.returncode == 0, evaluated.stderr
    greedy, random = mean_rewards(evaluated.stdout)
    assert greedy > random + 5.0, evaluated.stdout  # rewards lie in [-10, 10]; random is about -4.7

    shot = tmp_path / "shot.png"
    watched = ecs_rl_cli("watch", run, "--max-frames", 3, "--screenshot", shot, cwd=elsewhere)
    assert watched.returncode == 0, watched.stderr
    assert shot.stat().st_size > 0

    resumed = ecs_rl_cli("train", "--resume", run, "--steps", 3500, "--full", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    assert re.search(r"greedy evaluations \(step: mean reward\): 1,000: .*, 2,000: .*, 3,000: ", resumed.stdout), \
        resumed.stdout  # the run's whole story, not only this process's part
    assert json.loads((run / "metadata.json").read_text())["total_steps"] >= 3500


def test_entry_point_games_are_found_by_name(tmp_path):
    site = tmp_path / "site"
    (site / "tinygame").mkdir(parents=True)
    (site / "tinygame" / "__init__.py").write_text(TINY_GAME)
    info = site / "tinygame-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinygame\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ecs_rl.games]\ntiny = tinygame:make_game\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    trained = ecs_rl_cli("train", "tiny", "--steps", 300, "--root", "runs", cwd=tmp_path, env=env)
    assert trained.returncode == 0, trained.stderr
    run = next((tmp_path / "runs" / "tiny" / "dqn").iterdir())
    assert json.loads((run / "config.json").read_text())["game"] == "tiny"
    evaluated = ecs_rl_cli("eval", run, "--episodes", 3, cwd=tmp_path, env=env)
    assert evaluated.returncode == 0 and "episodes (report)  3" in evaluated.stdout, evaluated.stderr

    sys.path.insert(0, str(site))  # the same lookup in this process, through importlib.metadata
    try:
        assert registered_games()["tiny"] == "tinygame:make_game"
        game = load_game("tiny")
        assert game.name == "tiny" and game.spec == "tiny" and game.policy == "guesser"
        assert load_game("tinygame:make_game").spec == "tinygame:make_game"
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("tinygame", None)


TINY_GAME = '''
import esper, gymnasium as gym, numpy as np
from ecs_rl import Game
from ecs_rl.ecs import Action, Done, Observation, Reward, agent_components

class Guess:
    def __init__(self, rng): self.rng, self.target, self.ticks = rng, 0, 0

class GuessProcessor(esper.Processor):
    def process(self, *args):
        for _, (g, action, obs, reward, done) in esper.get_components(Guess, Action, Observation, Reward, Done):
            reward.value += float(action.value == g.target)
            g.target, g.ticks = int(g.rng.integers(2)), g.ticks + 1
            obs.value = np.array([g.target], dtype=np.float32)
            done.truncated = g.ticks >= 5

def build(n, seed=None):
    if esper.get_processor(GuessProcessor) is None:
        esper.add_processor(GuessProcessor())
    return [esper.create_entity(*agent_components("guesser", np.zeros(1, np.float32)),
                                Guess(np.random.default_rng(None if seed is None else seed + i))) for i in range(n)]

def reset(entity, seed=None):
    esper.component_for_entity(entity, Guess).ticks = 0

def make_game():
    return Game(name="tiny", policies={"guesser": (gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(2))},
                build=build, reset=reset, envs=2, eval_episodes=4, eval_freq=100)
'''


@pytest.mark.parametrize("spec, message", [
    ("nofile.py:make_game", "game 'nofile.py:make_game': no file {tmp}/nofile.py"),
    ("game.py:missing", "game 'game.py:missing': {tmp}/game.py has no attribute 'missing'"),
    ("broken.py:make_game", "game 'broken.py:make_game': importing {tmp}/broken.py failed: "
                            "ZeroDivisionError: division by zero"),
    ("game.py:not_a_game", "game 'game.py:not_a_game': not_a_game() returned int, not an ecs_rl.Game"),
    ("game.py:bad_spaces", "game 'game.py:bad_spaces': game 'bad': policies['p'] must be (observation_space, "
                           "action_space), two gymnasium spaces, got 3"),
    ("game.py:bad_build", "--envs 1: game bad: build(1, 0) failed: KeyError: 'lane'"),
    ("no_such_module_xyz:make_game", "game 'no_such_module_xyz:make_game': no module named 'no_such_module_xyz'"),
    ("pong", "unknown game 'pong'; known games: cartpole, foragers, hunt"),
    (":make_game", "game ':make_game': no module or file before ':'"),
    ("game.py:no_agents", "game empty: build(1, 0) created no agent entity of policy 'p' (an entity with "
                          "Agent(policy=...))"),
    ("game.py:own_world", "game level: build(1, 0) switched esper's world from 'ecs-rl:train' to 'level1'; "
                          "build must create its entities in the current world"),
])
def test_a_bad_game_spec_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, spec, message):
    (tmp_path / "game.py").write_text("from ecs_rl import Game\n\ndef not_a_game():\n    return 3\n\n"
                                      "def bad_spaces():\n    return Game(name='bad', policies={'p': 3}, "
                                      "build=print)\n\n"
                                      "def bad_build():\n    import gymnasium as gym\n"
                                      "    space = gym.spaces.Discrete(2)\n"
                                      "    return Game(name='bad', policies={'p': (space, space)}, "
                                      "build=lambda n, seed: {}['lane'], reset=print)\n\n"
                                      "def no_agents():\n    import gymnasium as gym\n"
                                      "    space = gym.spaces.Discrete(2)\n"
                                      "    return Game(name='empty', policies={'p': (space, space)}, "
                                      "build=lambda n, seed: None, reset=print)\n\n"
                                      "def own_world():\n    import esper, gymnasium as gym\n"
                                      "    space = gym.spaces.Discrete(2)\n"
                                      "    return Game(name='level', policies={'p': (space, space)}, "
                                      "build=lambda n, seed: esper.switch_world('level1'), reset=print)\n")
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["train", spec, "--root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    expected = message.format(tmp=tmp_path.resolve())
    assert err.startswith(f"ecs-rl train: error: {expected}") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == before  # no run made


EXTINCT = """
import esper, gymnasium as gym, numpy as np
from ecs_rl import Game
from ecs_rl.ecs import Done, Reward, agent_components

class Life:
    ticks = 0

class AgeProcessor(esper.Processor):
    def process(self, *args):
        for e, (life, done) in esper.get_components(Life, Done):
            life.ticks += 1
            done.terminated = life.ticks >= 3  # every agent dies at its third tick and nothing respawns

def build(n, seed):
    esper.add_processor(AgeProcessor())
    for _ in range(n):
        esper.create_entity(*agent_components("p", np.zeros(1, np.float32)), Life())

def make_game():
    space = gym.spaces.Discrete(2)
    return Game(name="extinct", policies={"p": (gym.spaces.Box(0, 1, (1,)), space)}, build=build, reset=None,
                envs=2, eval_freq=10_000)
"""


def test_training_a_world_whose_agents_all_died_stops_with_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "extinct.py").write_text(EXTINCT)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "extinct.py", "--steps", "1000", "--root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecs-rl train: error: no agent of policy 'p' has been alive for 1,024 ticks: every agent "
                          "ended and the game spawned none") and err.count("\n") == 1, err
    run = next((tmp_path / "runs" / "extinct").glob("dqn/*"))
    assert len(TrainingRun.resume(run).read_train_episodes()) == 2  # what was played is logged


TEAMS = TINY_GAME.replace('agent_components("guesser"', 'agent_components("red" if i % 2 else "blue"') + """

def make_teams():
    box, two = gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(2)
    return Game(name="teams", policies={"red": (box, two), "blue": (box, two)}, build=build, reset=reset, envs=4,
                eval_episodes=4, eval_freq=10_000)
"""


def test_a_team_game_without_a_scorer_evaluates_each_team_by_episodes(tmp_path, monkeypatch, capsys):
    (tmp_path / "teams.py").write_text(TEAMS)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "teams.py:make_teams", "--steps", "1500", "--root", "runs"]) == 0
    capsys.readouterr()
    run = next((tmp_path / "runs" / "teams").glob("red/*"))
    assert main(["eval", str(run), "--baseline", "--episodes", "6"]) == 0
    out = capsys.readouterr().out
    assert "Evaluation of team red" in out and "Evaluation of team blue" in out and "as a random policy" in out
    trained, random = mean_rewards(out)[0::2], mean_rewards(out)[1::2]
    assert len(trained) == len(random) == 2
    assert all(t > r + 1.0 for t, r in zip(trained, random)), out  # a guess of the shown target: 5 vs about 2.5
    game = load_game(str(tmp_path / "teams.py:make_teams"))
    rewards = [ecs_rl.evaluate(game, "random", 6, seed=3, name="red", others={"blue": "random"}).mean_reward
               for _ in range(2)]
    assert rewards[0] == rewards[1] < 4.0  # random partners accepted by name, reproducibly


def test_a_run_whose_game_file_moved_says_where_to_point_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.py").write_text(TINY_GAME)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "tiny.py", "--steps", "300", "--root", "runs"]) == 0
    run = next((tmp_path / "runs" / "tiny").glob("dqn/*"))
    (tmp_path / "games").mkdir()
    (tmp_path / "tiny.py").rename(tmp_path / "games" / "tiny.py")
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no file {tmp_path.resolve()}/tiny.py" in err
    assert err.rstrip().endswith('(if the game moved, point the "game" entry there)'), err
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "game": str(tmp_path / "games" / "tiny.py")}))
    assert main(["eval", str(run), "--episodes", "2"]) == 0


def test_a_bad_spec_in_a_subprocess_shows_no_traceback(tmp_path):
    (tmp_path / "broken.py").write_text("import nothing_by_this_name\n")
    done = ecs_rl_cli("train", "broken.py:make_game", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (f"ecs-rl train: error: game 'broken.py:make_game': importing {tmp_path.resolve()}/broken.py "
                           "failed: ModuleNotFoundError: No module named 'nothing_by_this_name'\n")


def test_specs_are_recorded_canonically(tmp_path):
    assert canonical_spec("cartpole") == "cartpole"
    assert canonical_spec("pkg.mod:make") == "pkg.mod:make"
    assert canonical_spec("pkg.mod:") == "pkg.mod:make_game"
    assert canonical_spec(str(tmp_path / "g.py")) == f"{tmp_path.resolve()}/g.py:make_game"
    with pytest.raises(GameSpecError, match="unknown game 'pong'"):
        canonical_spec("pong")


def test_built_in_games_are_declared_with_the_public_spec():
    for name, spec in registered_games().items():
        if name in ("cartpole", "foragers", "hunt"):
            module, _, attr = spec.partition(":")
            made = getattr(__import__(module, fromlist=[attr]), attr)()
            assert isinstance(made, Game) and made.name == name
    hunt = load_game("hunt")
    assert hunt.multi and hunt.learning_policies == ("prey", "predator") and hunt.on_end == "delete"
    assert load_game("cartpole").on_end == "reset" and not load_game("cartpole").multi


def test_an_old_run_naming_its_game_by_name_still_loads(tmp_path, capsys):
    run = TrainingRun.create("cartpole", "dqn", root=tmp_path)
    run.write_config({"game": "cartpole", "algo": "dqn", "envs": 1, "seed": 0, "steps": 100, "agent": {}})
    run.release_lock()
    assert main(["eval", str(run.path)]) == 2  # found the game; only the checkpoint is missing
    assert "has no best.pt or latest.pt checkpoint yet" in capsys.readouterr().err


def test_the_tutorial_game_plays_as_a_plain_esper_game(world):
    import runpy

    demo = runpy.run_path(str(DEMO))  # part 1, the game before any learning: keyboard, window, main loop
    demo["play"](frames=3)
    paddle = esper.get_component(demo["Paddle"])
    assert len(paddle) == 1 and esper.get_component(demo["Fruit"])[0][1].y == demo["HEIGHT"] - 3


# -- ecs_rl.evaluate ------------------------------------------------------------------------------

def perfect_catcher():
    """A scripted paddle that moves under the fruit (obs[0] is the fruit's offset)."""
    return ScriptedController(lambda obs, entity: 1 + int(np.sign(obs[0])), catch_game().policies["paddle"][1])


def catch_game() -> Game:
    return load_game(f"{DEMO}:make_game")


def test_evaluate_reproduces_with_a_seed_and_differs_without_it(world):
    game, worlds = catch_game(), set(esper.list_worlds())
    a = ecs_rl.evaluate(game, "random", 8, seed=5)
    b = ecs_rl.evaluate(game, "random", 8, seed=5)
    c = ecs_rl.evaluate(game, "random", 8, seed=6)
    rewards = lambda r: [x.total_reward for x in r.records]  # noqa: E731
    assert len(a.records) == 8 and rewards(a) == rewards(b) and rewards(a) != rewards(c)
    assert a.seed == 5 and a.unfinished == 0 and all(r.length == 100 for r in a.records)
    assert esper.current_world == world and set(esper.list_worlds()) == worlds  # its own world, deleted after


def test_evaluate_beats_the_random_baseline_one_argument_away(world):
    game = catch_game()
    scripted = ecs_rl.evaluate(game, perfect_catcher(), 10, seed=0)
    random = ecs_rl.evaluate(game, "random", 10, seed=0)
    assert scripted.mean_reward == 10.0 and random.mean_reward < 0.0


def test_evaluate_counts_unfinished_episodes_at_the_tick_limit(world):
    result = ecs_rl.evaluate(catch_game(), perfect_catcher(), 6, seed=0, max_ticks=25)
    assert len(result.records) == 6 and result.unfinished == 6
    assert all(r.status.value == "truncated" and r.length == 25 for r in result.records)
    assert all(r.total_reward == 2.0 for r in result.records)  # two fruits caught in 25 ticks


def test_evaluate_on_a_plain_factory(world):
    from walk_world import ACT_SPACE, factory

    result = ecs_rl.evaluate(factory("walk", limit=4), "random", 3, seed=0, name="walk", action_space=ACT_SPACE)
    assert [r.length for r in result.records] == [4, 4, 4]
    with pytest.raises(ValueError, match="needs name="):
        ecs_rl.evaluate(factory("walk"), "random", 3)
    with pytest.raises(ValueError, match="also needs policies for predator"):
        ecs_rl.evaluate(load_game("hunt"), "random", 2)


# -- callbacks and esper handlers -----------------------------------------------------------------

def test_a_lambda_episode_callback_keeps_firing(world):
    spawn("walk", limit=3)
    plugin = install({"walk": RecordingAgent()}, reset=walk_reset)
    ends = []
    plugin.on_episode_end(lambda event: ends.append(event.length))
    gc.collect()
    step_world(9, plugin=plugin)
    assert ends == [3, 3, 3]


def test_no_exception_at_exit_from_a_handler_set_in_another_world(tmp_path):
    script = tmp_path / "handler.py"
    script.write_text(textwrap.dedent("""
        import esper
        from ecs_rl.ecs import EPISODE_END, install, step_world
        from ecs_rl.worlds import cartpole
        from ecs_rl import RandomAgent
        esper.switch_world("level")
        cartpole.build(2, 0)
        plugin = install({"cartpole": RandomAgent(cartpole.action_space, seed=0)}, reset=cartpole.reset)
        ends = []
        def on_end(event):
            ends.append(event)
        esper.set_handler(EPISODE_END, on_end)
        step_world(200, plugin=plugin)
        esper.switch_world("default")
        print(len(ends) > 0)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
    assert "Exception ignored" not in done.stderr and "KeyError" not in done.stderr, done.stderr


# -- decisions and ticks --------------------------------------------------------------------------

def test_decisions_and_ticks_are_both_logged_and_named_in_the_report(world, tmp_path):
    run = TrainingRun.create("walk", "v", root=tmp_path)
    session = TrainingSession(RecordingAgent()).with_run(run)
    spawn("walk", limit=10, decision_period=4)
    spawn("walk", limit=6)  # decides every tick: decisions == ticks, nothing extra logged
    plugin = install({"walk": session}, reset=walk_reset)
    with session:
        step_world(30, plugin=plugin)
    lines = run.read_train_episodes()
    periodic = [line for line in lines if "decisions" in line["extras"]]
    assert periodic and all(line["length"] == 10 and line["extras"]["decisions"] == 3 for line in periodic)
    assert any(line["length"] == 6 and "decisions" not in line["extras"] for line in lines)
    report = str(session.eval_report(session.total_episodes))
    assert "total steps (decisions)" in report and "mean_length (ticks)" in report
    assert "mean_decisions (steps)" in report
    plain = str(TrainingSession(RecordingAgent()).eval_report(0))
    assert "total steps" not in plain and "mean_decisions" not in plain and "mean_length " in plain


def test_a_run_made_with_the_library_evaluates_once_its_config_names_the_game(world, tmp_path, capsys):
    from ecs_rl.algorithms import DqnAgent, DqnConfig

    game = catch_game()
    run = TrainingRun.create("mine", "v1", root=tmp_path)
    session = TrainingSession(DqnAgent(*game.spaces("paddle"), DqnConfig(learning_starts=50))).with_run(run)
    session.with_max_steps(200)
    game.build(2, 0)
    plugin = game.install({"paddle": session})
    with session:
        step_world(plugin=plugin)
    assert main(["eval", str(run.path), "--episodes", "2"]) == 2
    assert "config.json names no game" in capsys.readouterr().err
    run.write_config({"game": game.spec})
    assert main(["eval", str(run.path), "--episodes", "2"]) == 0
    assert "episodes (report)  2" in capsys.readouterr().out
