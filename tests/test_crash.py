"""Real `ecs-rl train` processes killed (SIGKILL, SIGTERM) and resumed: the run always tells one story."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecs_rl.cli import main

ECS_RL = Path(sys.executable).with_name("ecs-rl")
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYTHONUNBUFFERED": "1"}
TRAIN = ["--eval-freq", "1000000", "--full"]


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([ECS_RL, "train", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def wait_for(condition, what: str, proc: subprocess.Popen, timeout: float = 60.0, pause: float = 0.01):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"training ended before {what}: {proc.communicate()}")
        time.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


def kill(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return out


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def last_step(run: Path) -> int:
    rows = lines(run / "train_episodes.jsonl")
    return rows[-1]["step"] if rows else 0


def resumed_at(out: str) -> int:
    return int(re.search(r"resuming .* at step ([\d,]+)", out).group(1).replace(",", ""))


def check_consistent(run: Path) -> dict:
    """The rules of a run after any crash: unique increasing episodes, non-decreasing steps, counts agree."""
    rows = lines(run / "train_episodes.jsonl")
    meta = json.loads((run / "metadata.json").read_text())
    assert [r["episode"] for r in rows] == list(range(1, len(rows) + 1))
    steps = [r["step"] for r in rows]
    assert steps == sorted(steps)
    assert meta["total_episodes"] == len(rows)
    assert not rows or steps[-1] <= meta["total_steps"]
    assert sum(r["length"] for r in rows) <= meta["total_steps"]
    evals = [r["step"] for r in lines(run / "eval_episodes.jsonl")]
    assert evals == sorted(evals)
    assert not [p for p in run.rglob("*.tmp")], "temporary files left behind"
    assert (run / "train_episodes.jsonl").read_bytes()[-1:] in (b"", b"\n")
    return meta


def test_sigkill_before_a_checkpoint_mid_run_and_during_a_checkpoint_write_loses_at_most_one_period(tmp_path, capsys):
    every = 300
    # 1. killed before the first checkpoint: the resume starts from step 0 with empty logs, and says so
    proc = start("cartpole", "--root", tmp_path, "--steps", 20_000, "--checkpoint-every", 5_000, *TRAIN)
    log = wait_for(lambda: next(iter(tmp_path.glob("cartpole/dqn/*/train_episodes.jsonl")), None), "a log", proc)
    run = log.parent
    wait_for(lambda: len(log.read_text().splitlines()) >= 3, "three episodes", proc)
    assert not (run / "checkpoints" / "latest.pt").exists()
    kill(proc)
    logged = len(lines(log))

    # 2. resumed, then killed mid-run, after some checkpoints
    proc = start("--resume", run, "--checkpoint-every", every, *TRAIN)
    latest = run / "checkpoints" / "latest.pt"
    wait_for(lambda: latest.exists() and json.loads((run / "metadata.json").read_text())["total_steps"] >= 3 * every,
             "three checkpoints", proc)
    out = kill(proc)
    killed_after = max(last_step(run), json.loads((run / "metadata.json").read_text())["total_steps"])
    assert f"resume: no checkpoint in {run} yet: starting from step 0 with empty logs" in out
    assert (f"resume: {logged} line(s) of train_episodes.jsonl written after the checkpoint moved to "
            "train_episodes.rolled-back.jsonl") in out
    assert "resuming" in out and "at step 0 (episode 0)" in out

    # 3. resumed (the first resume's output says it started from zero), killed while writing a checkpoint
    proc = start("--resume", run, "--checkpoint-every", every, *TRAIN)
    temp = re.compile(r"^\.(latest|step_\d+)\.pt\..+\.tmp$")
    hit = wait_for(lambda: [e.name for e in os.scandir(run / "checkpoints") if temp.match(e.name)],
                   "a checkpoint being written", proc, pause=0.0)
    out = kill(proc)
    assert hit
    at = resumed_at(out)  # the loss is bounded by the checkpoint period
    assert 0 < at and killed_after - at <= every, (at, killed_after)

    # 4. resumed to the end of its budget
    assert main(["train", "--resume", str(run), "--steps", "4000", "--checkpoint-every", str(every), *TRAIN]) == 0
    done = capsys.readouterr()
    at = resumed_at(done.out)
    meta = check_consistent(run)
    assert meta["total_steps"] == 4_000 and meta["checkpoint_step"] == 4_000
    rolled = lines(run / "train_episodes.rolled-back.jsonl")
    assert len(rolled) >= logged  # every episode of the process killed before its first checkpoint went aside
    assert at > 0 and "temporary file(s) of an interrupted write" in done.out


def test_sigterm_saves_latest_at_one_step_and_a_second_writer_is_refused(tmp_path, capsys):
    proc = start("cartpole", "--root", tmp_path, "--steps", 400_000, *TRAIN)
    log = wait_for(lambda: next(iter(tmp_path.glob("cartpole/dqn/*/train_episodes.jsonl")), None), "a log", proc)
    run = log.parent
    wait_for(lambda: (run / ".lock").exists() and (run / ".lock").read_text().strip(), "the lock", proc)
    assert main(["train", "--resume", str(run), "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert err == (f"ecs-rl train: error: run {run} is in use: process {proc.pid} is training in it "
                   f"(lock {run / '.lock'})\n")
    assert (run / ".lock").read_text() == f"{proc.pid}\n" and not list(run.glob("*.rolled-back.jsonl"))

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert f"interrupted (SIGTERM) at step" in out and f"continue with: ecs-rl train --resume {run}" in out
    from ecs_rl.algorithms import DqnAgent
    from ecs_rl.worlds import cartpole

    agent = DqnAgent(cartpole.observation_space, cartpole.action_space)
    state = agent.load(run / "checkpoints" / "latest.pt")
    meta = check_consistent(run)
    assert agent.total_steps == state["total_steps"] == meta["total_steps"] > 0
    assert state["total_episodes"] == meta["total_episodes"] == len(lines(log))
    assert agent.replay.size == min(agent.total_steps, agent.replay.capacity)  # latest keeps the replay buffer
    # the lock died with the process: a resume is accepted again; a finished budget trains zero steps
    assert main(["train", "--resume", str(run), "--steps", str(meta["total_steps"])]) == 0
    assert "nothing to train" in capsys.readouterr().out
    assert json.loads((run / "metadata.json").read_text())["total_steps"] == meta["total_steps"]


# -- exact resume through the ECS path: N steps straight vs N/2, stop, resume, N/2 --------------------

def ecs_train(root, algo: str, steps: int, budget: int, resume=None) -> list[float]:
    """What `ecs-rl train cartpole` does, through the plugin; returns the run's episode rewards."""
    import esper

    from ecs_rl import TrainingRun, TrainingSession
    from ecs_rl.algorithms import DqnAgent, PpoAgent, presets
    from ecs_rl.ecs import install, step_world as run_world
    from ecs_rl.worlds import cartpole

    envs = {"dqn": 1, "ppo": 8}[algo]
    config = presets.cartpole_dqn(0) if algo == "dqn" else presets.cartpole_ppo(0, total_steps=budget)
    agent = (DqnAgent if algo == "dqn" else PpoAgent)(cartpole.observation_space, cartpole.action_space, config)
    training_run = TrainingRun.resume(resume) if resume else TrainingRun.create("cartpole", algo, root=root)
    session = TrainingSession(agent).with_run(training_run).with_max_steps(steps)
    world = f"exact-{algo}-{time.monotonic_ns()}"
    esper.switch_world(world)
    try:
        cartpole.build(envs, 0)
        plugin = install({"cartpole": session}, reset=cartpole.reset)
        with session:
            run_world(plugin=plugin)
    finally:
        esper.switch_world("default")
        esper.delete_world(world)
    return training_run.path, [r["total_reward"] for r in training_run.read_train_episodes()]


@pytest.mark.parametrize("algo, n", [("dqn", 2_000), ("ppo", 1_024)])
def test_resume_continues_where_the_checkpoint_left_off(tmp_path, algo, n):
    _, straight = ecs_train(tmp_path / "a", algo, n, n)
    run, first = ecs_train(tmp_path / "b", algo, n // 2, n)
    _, halves = ecs_train(tmp_path / "b", algo, n, n, resume=run)
    # everything up to the stop is the same run, episode for episode
    assert halves[: len(first)] == straight[: len(first)] and len(first) > 5
    # after it the world restarts (its mid-episode state is not in the checkpoint), so the sequences part
    assert json.loads((run / "metadata.json").read_text())["total_steps"] == n
    assert len(halves) > len(first)
