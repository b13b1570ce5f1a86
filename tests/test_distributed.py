"""Esper worlds in Ray workers feeding one learner: a local Ray (started once), and a two-node cluster on this machine."""

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from ecs_rl import TrainingRun  # noqa: E402
from ecs_rl.algorithms import DqnAgent, PpoAgent, PpoConfig, configure_torch  # noqa: E402
from ecs_rl.algorithms.acting import acting_weights  # noqa: E402
from ecs_rl.cli import main  # noqa: E402
from ecs_rl.core.session import TrainingSession  # noqa: E402
from ecs_rl.distributed import WorldWorker, train  # noqa: E402
from ecs_rl.ecs.evaluation import Evaluation  # noqa: E402
from ecs_rl.games import load_game  # noqa: E402
from ecs_rl.scoring import evaluate  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    configure_torch()
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def episodes(run: TrainingRun) -> list[dict]:
    return [json.loads(line) for line in (run.path / "train_episodes.jsonl").read_text().splitlines()]


def session_for(game, algo, steps, config=None, run=None):
    config = config or game.preset(algo, 0, steps)
    agent = {"dqn": DqnAgent, "ppo": PpoAgent}[algo](*game.spaces(game.policy), config)
    session = TrainingSession(agent).with_max_steps(steps)
    return session.with_run(run) if run is not None else session


def random_mean(game, evaluation, evals):
    """The random policy's mean over the same start seeds the evaluations used."""
    return float(np.mean([evaluate(game, "random", evaluation.episodes, seed=evaluation.seed_at(step)).mean_reward
                          for step in evals]))


def test_core_plugin_and_cli_do_not_import_ray():
    code = "import sys, ecs_rl, ecs_rl.core, ecs_rl.cli, ecs_rl.ecs, ecs_rl.distributed; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_worker_hands_back_the_log_probabilities_of_the_policy_it_was_sent(world):
    """No transition from a stale policy unaccounted for: each row's behaviour log-probability is the learner's
    log pi(a|s) under the weights the worker was sent (checked in-process, no Ray needed)."""
    game = load_game("cartpole")
    config = PpoConfig(n_steps=8, seed=5)
    learner = PpoAgent(*game.spaces(game.policy), config)
    worker = WorldWorker("cartpole", "ppo", vars(config), envs=3, seed=0, index=0)
    other = PpoAgent(*game.spaces(game.policy), PpoConfig(n_steps=8, seed=6))  # different weights
    chunk = worker.collect(8, acting_weights(learner))
    raw, logps, _, versions = chunk.behaviour
    assert set(versions.tolist()) == {0}
    assert len(chunk) == 24 and list(chunk.bounds) == [3 * t for t in range(9)]
    with torch.inference_mode():
        ours, _ = learner.net.log_prob_entropy(torch.from_numpy(chunk.obs), torch.from_numpy(raw))
        theirs, _ = other.net.log_prob_entropy(torch.from_numpy(chunk.obs), torch.from_numpy(raw))
    np.testing.assert_allclose(ours.numpy(), logps, atol=1e-5)
    assert not np.allclose(theirs.numpy(), logps, atol=1e-3)
    assert sorted(set(chunk.keys.tolist())) == sorted(e for e, _ in worker.plugin.life.known.items())


def test_dqn_on_two_workers_beats_random_on_foragers(local_ray):
    game = load_game("foragers")
    steps = 30_000
    session = session_for(game, "dqn", steps)
    evaluation = Evaluation(game.eval_factory, every=7_500, episodes=16, max_ticks=250)
    result = train(game, session, 2, envs=16, evaluation=evaluation, broadcast_every=1_000)
    evals = [e.mean_reward for e in result.plugin.eval_history]
    baseline = random_mean(game, evaluation, [e.step for e in result.plugin.eval_history])
    assert session.total_steps == steps and len(evals) == 4
    assert max(evals) > baseline + 8, (evals, baseline)
    assert session.agent.epsilon < 0.1  # the learner's schedule, which the workers were sent


def test_a_killed_worker_is_dropped_and_the_run_completes(local_ray, tmp_path, caplog):
    game = load_game("foragers")
    steps = 6_000
    run = TrainingRun.create("foragers", "dqn", root=tmp_path)
    session = session_for(game, "dqn", steps, run=run)
    actors, killed = [], []

    def kill_midway() -> bool:
        if not killed and session.total_steps >= 2_000:
            pid = ray.get(actors[1].pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(session.total_steps)
        return False

    result = train(game, session, 2, envs=8, stop=kill_midway, on_start=actors.extend)
    session.close()
    assert killed and result.dropped == [1] and session.total_steps == steps
    assert any("worker 1 died" in r.getMessage() for r in caplog.records)
    logged = episodes(run)
    lost = [row for row in logged if row["extras"].get("worker_lost")]
    assert lost and {row["worker"] for row in lost} == {1} and all(row["status"] == "truncated" for row in lost)
    assert len(lost) == 8 and sorted(row["agent_id"] for row in lost) == sorted({row["agent_id"] for row in lost})
    last_lost = max(i for i, row in enumerate(logged) if row in lost)
    assert all(row["worker"] == 0 for row in logged[last_lost + 1:]) and len(logged) > last_lost + 1
    assert len(logged) == session.total_episodes


def test_train_command_with_two_workers_learns_cartpole_with_ppo(local_ray, tmp_path, capsys):
    """``ecs-rl train --workers 2``: PPO, synchronous, beats random; the run is an ordinary run."""
    assert main(["train", "cartpole", "--algo", "ppo", "--workers", "2", "--envs", "4", "--steps", "16000",
                 "--eval-freq", "4000", "--full", "--root", str(tmp_path)]) == 0
    assert "2 workers on 1 node" in capsys.readouterr().out
    run = TrainingRun.resume(next((tmp_path / "cartpole" / "ppo").iterdir()))
    assert run.read_config()["workers"] == 2 and run.metadata["total_steps"] == 16_000
    logged = episodes(run)
    assert {row["worker"] for row in logged} == {0, 1} and len(logged) == run.metadata["total_episodes"]
    evals: dict[int, list[float]] = {}
    for line in (run.path / "eval_episodes.jsonl").read_text().splitlines():
        row = json.loads(line)
        evals.setdefault(row["step"], []).append(row["total_reward"])
    assert sorted(evals) == [4_000, 8_000, 12_000, 16_000]
    game = load_game("cartpole")
    baseline = random_mean(game, Evaluation(game.eval_factory, every=4_000, episodes=game.eval_episodes), evals)
    means = [float(np.mean(evals[step])) for step in sorted(evals)]
    assert max(means) > baseline + 50 and np.mean(means[-2:]) > 2 * baseline, (means, baseline)
    assert (run.path / "checkpoints" / "best.pt").is_file() and (run.path / "checkpoints" / "latest.pt").is_file()
    # a resumed distributed run continues like any other
    assert main(["train", "--resume", str(run.path), "--workers", "2", "--steps", "16640"]) == 0
    assert "resuming" in capsys.readouterr().out and TrainingRun.resume(run.path).metadata["total_steps"] == 16_640
    more = episodes(run)
    assert [row["episode"] for row in more] == list(range(1, len(more) + 1)) and len(more) > len(logged)


@pytest.mark.parametrize("args, message", [
    (["cartpole", "--workers", "2", "--render"], "--workers trains headless in Ray workers; leave out --render"),
    (["cartpole", "--ray-address", "auto"], "--ray-address needs --workers N"),
    (["hunt", "--workers", "2"], "--workers trains a game with one learning policy; hunt has 2 (prey, predator)"),
])
def test_train_with_workers_refuses_what_it_cannot_do(tmp_path, capsys, args, message):
    assert main(["train", *args, "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"ecs-rl train: error: {message}\n"
    assert not any(tmp_path.iterdir())


def test_workers_are_placed_on_both_nodes_of_a_cluster():
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the module's local Ray, if any: the cluster's head takes its place
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, logging_level="WARNING")
        game = load_game("cartpole")
        session = session_for(game, "ppo", 256, PpoConfig(n_steps=32, seed=1))
        result = train(game, session, 2, envs=4)
        assert len(set(result.nodes)) == 2 and session.total_steps == 256 and result.stale == 0
    finally:
        ray.shutdown()
        cluster.shutdown()


CHURN_GAME = '''
"""Walkers on a line that leave at random ticks (deleted) while new ones spawn: agents never come back."""
import esper
import gymnasium as gym
import numpy as np

from ecs_rl import Game
from ecs_rl.ecs.components import Action, Done, Observation, Reward, agent_components
from ecs_rl.ecs.lifecycle import despawn


class Walker:
    def __init__(self, rng):
        self.x, self.target, self.t = int(rng.integers(-5, 6)), int(rng.integers(-5, 6)), 0

    def obs(self):
        return np.array([(self.target - self.x) / 10, self.t / 40], dtype=np.float32)


def spawn(rng):
    w = Walker(rng)
    esper.create_entity(w, *agent_components("walker", w.obs()))


class Step(esper.Processor):
    def __init__(self, n, seed):
        self.n, self.rng = n, np.random.default_rng(seed)

    def process(self, dt=0):
        for e, (w, a, o, r, d) in list(esper.get_components(Walker, Action, Observation, Reward, Done)):
            w.x, w.t = w.x + int(a.value) - 1, w.t + 1
            r.value -= 0.05
            o.value = w.obs()
            if w.x == w.target:
                r.value += 1.0
                despawn(e, terminated=True)
            elif self.rng.random() < 0.05 or w.t >= 40:
                despawn(e)
        for _ in range(self.n - len(esper.get_component(Walker))):
            if self.rng.random() < 0.5:
                spawn(self.rng)


def build(n, seed=0, **_):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        spawn(rng)
    esper.add_processor(Step(n, (seed or 0) + 99), priority=0)


def make_game():
    space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    return Game(name="walkers", policies={"walker": (space, gym.spaces.Discrete(3))}, build=build, reset=None,
                envs=4, eval_max_ticks=60)
'''


def test_ppo_with_agents_that_leave_and_spawn_wastes_no_round(local_ray, tmp_path):
    """Agents deleted at random ticks and new ones spawned (closed segments in the rollout): the update still
    falls due at a round's end, so no decision of the weights a round was sent is thrown away as stale."""
    (tmp_path / "walkers.py").write_text(CHURN_GAME)
    game = load_game(str(tmp_path / "walkers.py"))
    session = session_for(game, "ppo", 1_500, PpoConfig(n_steps=16, seed=1))
    result = train(game, session, 2, envs=4)
    assert session.total_steps == 1_500 and session.agent.updates >= 5
    # every row fed was learned from, but for the last tick's rows past the budget (at most one per agent)
    assert result.stale == 0 and 0 <= result.transitions - session.total_steps <= 2 * 4, \
        (result.stale, result.transitions)


def test_a_ray_address_where_nothing_answers_is_one_line_at_once(tmp_path, capsys):
    import socket

    ray.shutdown()  # the command starts or joins its own Ray
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["train", "cartpole", "--workers", "1", "--ray-address", f"127.0.0.1:{port}", "--steps", "100",
                 "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ecs-rl train: error: cannot start or join the Ray cluster at '127.0.0.1:{port}': ")
    assert err.count("\n") == 1 and not ray.is_initialized()


def test_a_dqn_worker_acts_with_the_epsilon_and_weights_it_was_sent(world):
    """Epsilon 0: every action is the sent Q-network's argmax; epsilon 1: many are not (checked in-process)."""
    game = load_game("cartpole")
    learner = DqnAgent(*game.spaces(game.policy), game.preset("dqn", 0, 1_000))
    worker = WorldWorker("cartpole", "dqn", vars(learner.config), envs=8, seed=0, index=1)  # its own world here
    greedy = worker.collect(8, acting_weights(learner), epsilon=0.0)
    with torch.inference_mode():
        best = learner.q_net(torch.from_numpy(greedy.obs)).argmax(dim=1).numpy()
    assert len(greedy) == 64 and np.array_equal(greedy.actions, best)
    explored = worker.collect(8, epsilon=1.0)
    with torch.inference_mode():
        best = learner.q_net(torch.from_numpy(explored.obs)).argmax(dim=1).numpy()
    assert np.mean(explored.actions != best) > 0.25


def test_a_chunk_fed_as_arrays_fills_the_replay_and_trains_as_one_transition_at_a_time(world):
    """The learner ingests a worker's rows as arrays (``Chunk.transitions``): the DQN replay holds the same rows,
    masks and step count as when each row is observed as an ``Experience``, and its updates give the same
    weights (checked in-process, no Ray needed)."""
    game = load_game("foragers")
    config = replace(game.preset("dqn", 0, 10_000), learning_starts=100, train_freq=16, batch_size=32,
                     target_update_interval=200)
    worker = WorldWorker("foragers", "dqn", vars(config), envs=16, seed=3, index=2)  # its own world here
    chunk = worker.collect(40, epsilon=1.0)
    n, offset = len(chunk), 5 * 2**32
    masked = np.random.default_rng(0).random((n, 5)) < 0.8  # some next states with illegal actions
    masked[:, 0] = True
    chunk.next_masks = masked
    one, arrays = (TrainingSession(DqnAgent(*game.spaces(game.policy), config)) for _ in range(2))
    for lo, hi in zip(chunk.bounds[:-1], chunk.bounds[1:]):  # tick by tick, as the learner feeds them
        one.observe_batch([chunk.experience(j, offset) for j in range(lo, hi)])
        arrays.observe_batch(chunk.transitions(lo, hi, offset))
    a, b = one.agent, arrays.agent
    assert n == 640 and one.total_steps == arrays.total_steps == n and a.total_steps == b.total_steps == n
    assert (a.replay.pos, a.replay.size) == (b.replay.pos, b.replay.size) == (n, n)
    np.testing.assert_array_equal(a.replay.rows, b.replay.rows)
    np.testing.assert_array_equal(a.replay.next_masks, b.replay.next_masks)
    assert a.replay.next_masks[:n].sum() < n * 5  # the masks were stored, not dropped
    assert chunk.transitions(0, 4, offset).agent_ids.tolist() == (chunk.keys[:4] + offset).tolist()
    for p, q in zip(a.q_net.parameters(), b.q_net.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(next(a.q_net.parameters()), next(DqnAgent(*game.spaces(game.policy), config).q_net
                                                            .parameters()))  # it did learn


def test_a_local_ray_started_for_the_run_gives_its_workers_the_learners_priority():
    """Ray's default starts workers 15 nicer than the learner: on a busy machine the worlds would then lose
    the CPU to everything else while the single-process plugin does not."""
    if os.getpriority(os.PRIO_PROCESS, 0) >= 19:
        pytest.skip("at niceness 19 no process can be nicer than this one")
    ray.shutdown()  # train starts (and stops) a Ray of its own
    game = load_game("cartpole")
    session = session_for(game, "ppo", 64, PpoConfig(n_steps=16, seed=1))
    seen = []
    train(game, session, 1, envs=4,
          on_start=lambda actors: seen.append(os.getpriority(os.PRIO_PROCESS, ray.get(actors[0].pid.remote()))))
    assert seen == [os.getpriority(os.PRIO_PROCESS, 0)]
