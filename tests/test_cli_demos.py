"""The demo games and the ecs-rl command: windows (SDL dummy driver), keys, every command, Ctrl-C + resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import esper
import numpy as np
import pygame
import pytest

from ecs_rl.cli import main
from ecs_rl.commands import random_baseline
from ecs_rl.ecs import HumanController, Observation
from ecs_rl.games import get_game
from ecs_rl.render import cartpole as cartpole_draw
from ecs_rl.render.window import KeyboardInput, Window
from ecs_rl.worlds import cartpole, foragers

ECS_RL = Path(sys.executable).with_name("ecs-rl")
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def colours(surface: pygame.Surface) -> set[tuple[int, int, int]]:
    pixels = pygame.surfarray.array3d(surface).reshape(-1, 3)
    return {tuple(int(v) for v in p) for p in np.unique(pixels, axis=0)}


def test_cartpole_window_shows_cart_and_pole(world):
    cartpole.build(1, seed=0)
    window = Window((600, 400), "test")
    try:
        cartpole_draw.draw_world(window.screen)
        window.draw_hud(["steps 0"])
        seen = colours(window.screen)
        assert cartpole_draw.CART in seen and cartpole_draw.POLE in seen and cartpole_draw.SKY in seen
        pole = np.all(pygame.surfarray.array3d(window.screen) == cartpole_draw.POLE, axis=-1)
        xs, ys = np.nonzero(pole)
        assert ys.max() - ys.min() > 60 and xs.max() - xs.min() < 30  # an upright pole, not a blob
    finally:
        window.close()


def test_foragers_window_shows_agents_and_food(world):
    from ecs_rl.render import foragers as foragers_draw

    entities = foragers.build(16, seed=0)
    window = Window((640, 640), "test")
    try:
        foragers_draw.draw_world(window.screen, human=entities[0])
        seen = colours(window.screen)
        assert {foragers_draw.AGENT, foragers_draw.HUMAN, foragers_draw.PELLET, foragers_draw.GRASS} <= seen
    finally:
        window.close()


def test_keyboard_events_become_actions():
    window = Window((100, 100), "keys")
    try:
        game = get_game("foragers")
        keyboard, human = KeyboardInput(game.keys, game.idle), HumanController(foragers.action_space, default=0)
        for events, expected in [
            ([pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LEFT)], 3),
            ([pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP)], 1),  # the latest held key wins
            ([pygame.event.Event(pygame.KEYUP, key=pygame.K_UP)], 3),
            ([pygame.event.Event(pygame.KEYUP, key=pygame.K_LEFT)], 0),  # nothing held: stay
        ]:
            for event in events:
                pygame.event.post(event)
            keyboard.handle(window.poll())
            human.set_action(keyboard.action(tick=0))
            assert human.decide(None, 1) == expected
        cart = KeyboardInput(get_game("cartpole").keys, get_game("cartpole").idle)
        assert [cart.action(t) for t in range(4)] == [0, 1, 0, 1]  # idle cart: alternate pushes
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
        window.poll()
        assert window.paused
    finally:
        window.close()


def test_no_key_does_two_things_in_play():
    """The arrow keys move the player only; the speed keys are + and -; a game may not claim a window key."""
    window = Window((100, 100), "keys")
    try:
        for game in (get_game("foragers"), get_game("cartpole"), get_game("hunt")):
            keyboard = KeyboardInput(game.keys, game.idle)
            for name, action in game.keys.items():
                code = getattr(pygame, f"K_{name.upper()}")
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code))
                keyboard.handle(window.poll())
                assert keyboard.action(0) == action
                assert window.speed == 1.0 and not window.paused and window.rendering and window.open, name
                pygame.event.post(pygame.event.Event(pygame.KEYUP, key=code))
                keyboard.handle(window.poll())
        for key, speed in ((pygame.K_PLUS, 2.0), (pygame.K_EQUALS, 4.0), (pygame.K_MINUS, 2.0),
                           (pygame.K_KP_MINUS, 1.0)):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
            window.poll()
            assert window.speed == speed
    finally:
        window.close()
    with pytest.raises(ValueError, match="key 'space' is the window's \\(pause\\)"):
        KeyboardInput({"left": 0, "space": 1}, lambda tick: 0)
    with pytest.raises(ValueError, match="key 'PLUS' is the window's \\(faster\\)"):
        KeyboardInput({"PLUS": 1}, lambda tick: 0)
    with pytest.raises(ValueError, match="key 'jump' is not a pygame key name"):
        KeyboardInput({"jump": 1}, lambda tick: 0)
    assert KeyboardInput({"a": 1, "kp_4": 2}, lambda tick: 0).codes == {pygame.K_a: 1, pygame.K_KP_4: 2}


def test_play_refuses_a_game_whose_keys_are_the_window_s(tmp_path):
    game = tmp_path / "rkeys.py"
    game.write_text("from dataclasses import replace\n"
                    "from ecs_rl.worlds import cartpole\n\n"
                    "def make_game():\n"
                    "    return replace(cartpole.make_game(), name='rkeys', keys={'left': 0, 'r': 1})\n")
    proc = cli("play", f"{game}:make_game", "--max-frames", 2)
    assert (proc.returncode, proc.stderr) == (2, "ecs-rl play: error: game rkeys: keys: key 'r' is the window's "
                                                 "(drawing on/off); the game's keys must be others\n")


def cli(*args, timeout=300):
    return subprocess.run([ECS_RL, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    proc = cli("train", "cartpole", "--steps", 4000, "--eval-freq", 2000, "--root", root)
    assert proc.returncode == 0, proc.stderr
    return root, proc


def test_train_prints_the_report_and_the_run(trained):
    root, proc = trained
    assert "Training report" in proc.stdout and "greedy evaluations" in proc.stdout
    (run_dir,) = root.glob("cartpole/dqn/*")
    assert f"run: {run_dir}" in proc.stdout
    assert (run_dir / "checkpoints" / "best.pt").exists()
    assert json.loads((run_dir / "config.json").read_text())["game"] == "cartpole"


def test_eval_watch_play_plot_and_runs(trained, tmp_path):
    root, _ = trained
    proc = cli("eval", root / "cartpole", "--episodes", 5, "--baseline")
    assert proc.returncode == 0 and "mean_reward" in proc.stdout and "Random policy" in proc.stdout
    assert proc.stdout.count("episodes (report)  5") == 2

    shot = tmp_path / "watch.png"
    proc = cli("watch", root / "cartpole", "--max-frames", 20, "--screenshot", shot)
    assert proc.returncode == 0, proc.stderr
    assert pygame.image.load(str(shot)).get_size() == (600, 400)

    shot = tmp_path / "play.png"
    proc = cli("play", "foragers", "--max-frames", 20, "--screenshot", shot)
    assert proc.returncode == 0, proc.stderr
    assert pygame.image.load(str(shot)).get_size() == (640, 640)

    png = tmp_path / "reward.png"
    proc = cli("plot", root / "cartpole", root / "cartpole", "-o", png)
    assert proc.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pygame.image.load(str(png)).get_width() > 500

    proc = cli("runs", "--root", root)
    assert proc.returncode == 0 and "cartpole" in proc.stdout and "4,000" in proc.stdout


def test_train_with_a_window_runs_frames(tmp_path):
    assert main(["train", "cartpole", "--steps", "500", "--render", "--max-frames", "5", "--root", str(tmp_path)]) == 0
    (meta,) = tmp_path.glob("cartpole/dqn/*/metadata.json")
    assert json.loads(meta.read_text())["total_steps"] > 0


def test_ctrl_c_saves_latest_and_resume_continues(tmp_path):
    proc = subprocess.Popen([ECS_RL, "train", "cartpole", "--steps", "400000", "--root", tmp_path, "--full"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 120
    log = None
    while time.time() < deadline:
        logs = list(tmp_path.glob("cartpole/dqn/*/train_episodes.jsonl"))
        if logs and len(logs[0].read_text().splitlines()) >= 20:
            log = logs[0]
            break
        time.sleep(0.2)
    assert log is not None, "training never logged episodes"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "continue with: ecs-rl train --resume" in out
    run_dir = log.parent
    assert (run_dir / "checkpoints" / "latest.pt").exists()
    before = json.loads((run_dir / "metadata.json").read_text())
    lines_before = log.read_text().splitlines()
    assert before["total_steps"] > 0

    target = before["total_steps"] + 1500
    done = cli("train", "--resume", run_dir, "--steps", target)
    assert done.returncode == 0, done.stderr
    after = json.loads((run_dir / "metadata.json").read_text())
    assert after["total_steps"] == target and after["total_episodes"] > before["total_episodes"]
    lines_after = log.read_text().splitlines()
    assert lines_after[: len(lines_before)] == lines_before
    assert json.loads(lines_after[len(lines_before)])["episode"] == before["total_episodes"] + 1


@pytest.mark.parametrize("args, message", [
    (["train", "pong"], "unknown game 'pong'; known games: cartpole, foragers"),
    (["train", "cartpole", "--steps", "lots"], "argument --steps: expected a whole number, got 'lots'"),
    (["train", "cartpole", "--envs", "0"], "argument --envs: must be >= 1, got 0"),
    (["eval", "/no/such/run"], "/no/such/run does not exist"),
    (["watch", "/no/such/run"], "/no/such/run does not exist"),
    (["play", "chess"], "unknown game 'chess'"),
    (["plot", "/no/such/run", "-o", "x.png"], "/no/such/run does not exist"),
    (["train", "--resume", "/no/such/run"], "/no/such/run does not exist"),
])
def test_bad_input_is_one_line_and_nonzero(args, message):
    proc = cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_foragers_agents_learn_to_beat_random(world, tmp_path):
    from ecs_rl import TrainingSession
    from ecs_rl.algorithms import DqnAgent, presets
    from ecs_rl.ecs import Evaluation, install, step_world

    game = get_game("foragers")
    random_mean = np.mean([r.total_reward for r in random_baseline(game, 16, seed=10_000)])
    esper.switch_world(world)
    agent = DqnAgent(foragers.observation_space, foragers.action_space, presets.foragers_dqn(seed=0, total_steps=25_000))
    session = TrainingSession(agent).with_max_steps(25_000)
    foragers.build(16, seed=0)
    plugin = install({"foragers": session}, reset=foragers.reset,
                     evaluation=Evaluation(foragers.factory(), every=25_000, episodes=16))
    step_world(plugin=plugin)
    trained_mean = plugin.eval_history[-1].mean_reward
    assert trained_mean > random_mean + 5 and trained_mean > 3 * max(random_mean, 1.0), (trained_mean, random_mean)
    assert esper.component_for_entity(esper.get_component(foragers.Forager)[0][0], Observation).value.shape == (8,)


def test_train_ppo_uses_the_envs_its_preset_is_tuned_for(tmp_path):
    proc = cli("train", "cartpole", "--algo", "ppo", "--steps", 2048, "--eval-freq", 2048, "--root", tmp_path)
    assert proc.returncode == 0, proc.stderr
    (config,) = tmp_path.glob("cartpole/ppo/*/config.json")
    cfg = json.loads(config.read_text())
    assert cfg["envs"] == 8 and cfg["algo"] == "ppo" and cfg["agent"]["n_steps"] == 32
