"""The ecs-rl command on Hunt, a game with two learning policies: train (one run per team), Ctrl-C and resume of
both from either run, eval against random teams, watch and play in a window (SDL dummy driver)."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import esper
import numpy as np
import pygame
import pytest

from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, GreedyPolicy, presets
from ecs_rl.cli import main
from ecs_rl.ecs import Agent, step_world
from ecs_rl.render import hunt as hunt_draw
from ecs_rl.worlds import hunt
from run_files import TEAMS, read, team_runs

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
       "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def cli(*args):
    """The real command in a process of its own (this checkout's ecs_rl, whatever the venv installed)."""
    return subprocess.Popen([sys.executable, "-m", "ecs_rl.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


@pytest.fixture(autouse=True)
def torch_settings_restored():
    from ecs_rl.algorithms import configure_torch, torch_settings

    before = torch_settings()
    yield
    configure_torch(before.num_threads, before.flush_denormal)


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def colours(path: Path) -> set[tuple[int, int, int]]:
    pixels = pygame.surfarray.array3d(pygame.image.load(str(path))).reshape(-1, 3)
    return {tuple(int(v) for v in p) for p in np.unique(pixels, axis=0)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("hunt-runs")
    assert main(["train", "hunt", "--steps", "1500", "--eval-freq", "750", "--root", str(root)]) == 0
    return root


def test_train_makes_one_run_per_team_that_names_its_partner(trained):
    runs = team_runs(trained)
    for team, other in [("prey", "predator"), ("predator", "prey")]:
        run = runs[team]
        cfg = read(run / "config.json")
        assert {k: cfg[k] for k in ("game", "algo", "envs", "seed", "steps", "policy")} == {
            "game": "hunt", "algo": "dqn", "envs": 24, "seed": 0, "steps": 1500, "policy": team}
        assert (run / cfg["partners"][other]).resolve() == runs[other].resolve() and list(cfg["partners"]) == [other]
        assert cfg["agent"]["epsilon_decay_steps"] == 500  # the team's preset, for its own budget
        assert cfg["agent"]["seed"] == TEAMS.index(team)
        for name in ("latest.pt", "best.pt"):
            assert (run / "checkpoints" / name).stat().st_size > 0
        meta = read(run / "metadata.json")
        # each team stops at its own budget (the prey, twice as fast, then plays on frozen): the tick's agents
        # may add a few steps past it, never a tick's worth more
        assert 1500 <= meta["total_steps"] < 1500 + 12 and meta["total_episodes"] > 0
        episodes = [json.loads(line) for line in (run / "train_episodes.jsonl").read_text().splitlines()]
        assert len(episodes) == meta["total_episodes"] and episodes[-1]["step"] <= meta["total_steps"]
        evals = [json.loads(line) for line in (run / "eval_episodes.jsonl").read_text().splitlines()]
        assert {e["step"] // 750 for e in evals} == {1, 2} and {e["policy"] for e in evals} == {team}


def test_ctrl_c_saves_both_teams_and_resuming_either_run_resumes_both(tmp_path):
    proc = cli("train", "hunt", "--steps", "400000", "--root", tmp_path, "--eval-freq", "100000")
    deadline, logs = time.time() + 120, None
    while time.time() < deadline:
        logs = [tmp_path / "hunt" / team for team in TEAMS]
        found = [list(p.glob("*/train_episodes.jsonl")) for p in logs]
        if all(found) and all(len(f[0].read_text().splitlines()) >= 3 for f in found):
            break
        time.sleep(0.2)
    else:
        pytest.fail("training never logged episodes of both teams")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    runs = team_runs(tmp_path)
    assert f"continue with: ecs-rl train --resume {runs['prey']}" in out
    before = {team: read(run / "metadata.json") for team, run in runs.items()}
    lines = {team: (run / "train_episodes.jsonl").read_text().splitlines() for team, run in runs.items()}
    for team, run in runs.items():
        assert (run / "checkpoints" / "latest.pt").exists() and before[team]["total_steps"] > 0

    target = max(m["total_steps"] for m in before.values()) + 600
    resumed = cli("train", "--resume", runs["predator"], "--steps", target)  # the predators' run: both resume
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    for team, run in runs.items():
        assert f"resuming {run} at step {before[team]['total_steps']:,}" in out
        after = read(run / "metadata.json")
        assert target <= after["total_steps"] < target + 12 and after["total_episodes"] > before[team]["total_episodes"]
        now = (run / "train_episodes.jsonl").read_text().splitlines()
        assert now[: len(lines[team])] == lines[team]
        assert json.loads(now[len(lines[team])])["episode"] == before[team]["total_episodes"] + 1
        assert read(run / "config.json")["steps"] == 400_000  # a smaller --steps stops early; the budget stays
        # each run's writer lock was taken by the resuming process (it writes its pid into the lock file)
        assert (run / ".lock").read_text().strip() == str(resumed.pid)


def expect_one_line_error(capsys, args, message, root):
    before = snapshot(root)
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    assert err == f"ecs-rl {args[0]}: error: {message}\n", err
    assert snapshot(root) == before


@pytest.fixture
def runs_copy(trained, tmp_path):
    shutil.copytree(trained / "hunt", tmp_path / "hunt")
    return team_runs(tmp_path)


def test_resume_that_contradicts_the_runs_or_finds_a_partner_locked_is_refused(runs_copy, capsys, tmp_path):
    prey, predator = runs_copy["prey"], runs_copy["predator"]
    expect_one_line_error(capsys, ["train", "--resume", prey, "--algo", "ppo"],
                   f"--resume {prey}: the run has algo 'dqn', not 'ppo'; leave out --algo or start a new run", tmp_path)
    expect_one_line_error(capsys, ["train", "--resume", predator, "--version", "v2"],
                   f"--resume {predator}: the run has version 'predator', not 'v2'; leave out --version or start a "
                   "new run", tmp_path)
    held = TrainingRun.resume(predator)
    held.acquire_lock()  # another writer in the partner run (the lock file names the pid that trained it last)
    try:
        expect_one_line_error(capsys, ["train", "--resume", prey, "--steps", "3000"],
                       f"run {predator} is in use: process {os.getpid()} is training in it (lock {predator / '.lock'})",
                       tmp_path)
    finally:
        held.release_lock()
    shutil.rmtree(predator)
    expect_one_line_error(capsys, ["train", "--resume", prey], f"the predator run of {prey} is missing: no run at {predator}",
                   tmp_path)
    expect_one_line_error(capsys, ["eval", prey], f"the predator run of {prey} is missing: no run at {predator}", tmp_path)


def test_new_hunt_runs_refuse_a_version_and_too_few_agents(tmp_path, capsys):
    expect_one_line_error(capsys, ["train", "hunt", "--version", "v1", "--root", tmp_path],
                   "--version: hunt trains one run per policy, named by the policy (prey, predator); leave out --version",
                   tmp_path)
    expect_one_line_error(capsys, ["train", "hunt", "--envs", "2", "--root", tmp_path],
                   "--envs 2: n must be >= 3 (one agent per team at least), got 2", tmp_path)
    expect_one_line_error(capsys, ["train", "hunt", "--algo", "ppo", "--root", tmp_path],
                   "game 'hunt' has no 'ppo' preset for policy 'prey'", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_eval_scores_both_teams_and_random_teams_in_their_place(trained, capsys):
    runs = team_runs(trained)
    capsys.readouterr()
    assert main(["eval", str(runs["prey"]), "--baseline", "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 world(s) of 24 agents, seeds 1000000000..1000000000" in out
    figures = {}
    for team in TEAMS:
        (row,) = [line for line in out.splitlines() if line.startswith(f"{team} ")]
        trained_score, random_score, checkpoint = row.split()[1:]
        figures[team] = float(trained_score), float(random_score)
        assert checkpoint == str(runs[team] / "checkpoints" / "best.pt")
    # the printed trained figures are hunt.score's with the two best.pt files on the held-out seed
    policies = {team: GreedyPolicy.load(runs[team] / "checkpoints" / "best.pt") for team in TEAMS}
    direct = hunt.score(policies, 24, [10**9])
    assert {team: round(direct[team], 2) for team in TEAMS} == {team: figures[team][0] for team in TEAMS}
    assert all(np.isfinite(v) for pair in figures.values() for v in pair)


def test_watch_and_play_show_every_team(trained, tmp_path, capsys):
    runs = team_runs(trained)
    shot = tmp_path / "watch.png"
    assert main(["watch", str(runs["predator"]), "--max-frames", "15", "--screenshot", str(shot)]) == 0
    assert {hunt_draw.PREY, hunt_draw.PREDATOR, hunt_draw.HAWK, hunt_draw.PELLET} <= colours(shot)

    for extra in ([], ["--run", str(trained / "hunt")]):
        shot = tmp_path / "play.png"
        assert main(["play", "hunt", *extra, "--max-frames", "15", "--screenshot", str(shot)]) == 0
        assert {hunt_draw.PREY, hunt_draw.PREDATOR, hunt_draw.HAWK} <= colours(shot)
        previous = esper.current_world
        esper.switch_world("ecs-rl:play")  # the world the command played in: one prey is the person's
        try:
            human = esper.get_component(hunt.Hunt)[0][1].human_entity
            assert human is not None and esper.component_for_entity(human, Agent).policy == hunt.HUMAN_POLICY
            assert esper.has_component(human, hunt.Prey)
        finally:
            esper.switch_world(previous)
    assert main(["play", "hunt", "--run", str(trained / "nope")]) == 2
    assert capsys.readouterr().err == f"ecs-rl play: error: {trained / 'nope'} does not exist\n"


def test_a_team_out_of_budget_plays_on_frozen_while_the_other_learns(world):
    prey = TrainingSession(DqnAgent(hunt.prey_observation_space, hunt.action_space,
                                    presets.hunt_prey_dqn(0))).with_max_steps(100)
    predator = TrainingSession(DqnAgent(hunt.predator_observation_space, hunt.action_space,
                                        presets.hunt_predator_dqn(1))).with_max_steps(400)
    hunt.build(24, seed=0)
    plugin = hunt.install_hunt({"prey": prey, "predator": predator})
    step_world(prey.is_done, plugin=plugin)
    plugin.freeze("prey")
    steps, episodes = prey.total_steps, prey.total_episodes
    assert 100 <= steps < 112 and not plugin.done
    step_world(plugin=plugin, max_ticks=10_000)
    assert plugin.done and predator.total_steps >= 400
    assert (prey.total_steps, prey.total_episodes) == (steps, episodes)  # no more transitions or episodes
    assert isinstance(plugin.policies["prey"].policy, GreedyPolicy) and plugin.policies["prey"].stats.episodes > 0
    with pytest.raises(ValueError, match="freeze\\(\\) needs a learning policy"):
        plugin.freeze("hawk")


def test_training_in_a_window_shows_both_teams_progress(tmp_path):
    assert main(["train", "hunt", "--steps", "300", "--render", "--max-frames", "8", "--root", str(tmp_path)]) == 0
    runs = team_runs(tmp_path)
    assert all(read(run / "metadata.json")["total_steps"] > 0 for run in runs.values())
