"""DQN and PPO against Stable-Baselines3: same hyper-parameters, same step budget, same machine.

    python benchmarks/algorithms_vs_sb3.py --task all --seeds 5 --write   # ~40 min on 2 cores; writes the results
    python benchmarks/algorithms_vs_sb3.py --task dqn --seeds 1           # a quick look: prints, writes nothing

Tasks (Gymnasium envs driven by a plain loop through TrainingSession):
  dqn           DQN on CartPole-v1, 1 env, 50 000 steps       solved = greedy mean >= 475 over 20 episodes
  ppo           PPO on CartPole-v1, 8 envs, 100 000 steps     solved = greedy mean >= 475
  ppo-pendulum  PPO (Box actions) on Pendulum-v1, 4 envs, 200 000 steps   target = greedy mean > -300

Every (library, seed) runs in its own subprocess, one after another, so process-wide torch settings
never leak between them and both libraries see the same machine noise. SB3 runs twice: as users run
it ("sb3": torch defaults) and with ecs-rl's process settings ("sb3-same": 1 thread, flush-denormal).
Training time excludes the periodic evaluations (timed separately on both sides). The table printed at
the end is what README and benchmarks/README quote; only with ``--write`` are the raw figures (every seed's
evaluations and training seconds, the load, the date, the commit) written, to benchmarks/results/<task>.json
(``--write FOLDER``: results/FOLDER/<task>.json), so a quick look never replaces the committed figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
from report import sb3_table
from results_file import add_write_option, check_folder, load_average, meta, write

TASKS = {
    "dqn": dict(env="CartPole-v1", n_envs=1, steps=50_000, eval_freq=5_000, target=475.0, preset="cartpole_dqn"),
    "ppo": dict(env="CartPole-v1", n_envs=8, steps=100_000, eval_freq=10_000, target=475.0, preset="cartpole_ppo"),
    "ppo-pendulum": dict(env="Pendulum-v1", n_envs=4, steps=200_000, eval_freq=20_000, target=-300.0,
                         preset="pendulum_ppo"),
}


def config_for(task: dict, seed: int):
    """The task's preset (ecs_rl.algorithms.presets): the one set of hyper-parameters both libraries get."""
    from ecs_rl.algorithms import presets

    make = getattr(presets, task["preset"])
    return make(seed, total_steps=task["steps"]) if task["preset"] == "cartpole_ppo" else make(seed)


class Sb3Policy:
    """An SB3 model seen through ecs-rl's policy interface, for the shared evaluation function."""

    def __init__(self, model):
        self.model = model

    def act_batch(self, obs, mode=None, agent_ids=None):
        return self.model.predict(np.asarray(obs), deterministic=True)[0]


def run_ours(task: dict, seed: int) -> dict:
    from ecs_rl import TrainingSession
    from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, configure_torch
    from ecs_rl.adapters.gym_loop import train

    configure_torch()  # 1 thread, flush-denormal: what `ecs-rl train` runs with
    envs = [gym.make(task["env"]) for _ in range(task["n_envs"])]
    config = config_for(task, seed)
    kind = DqnAgent if isinstance(config, DqnConfig) else PpoAgent
    session = TrainingSession(kind(envs[0].observation_space, envs[0].action_space, config)).with_max_steps(task["steps"])
    started = time.perf_counter()
    evals = train(session, envs, seed=seed, eval_env=lambda: gym.make(task["env"]), eval_freq=task["eval_freq"])
    wall = time.perf_counter() - started
    return {"train_seconds": wall - sum(e.seconds for e in evals), "evals": [(e.step, e.mean_reward) for e in evals]}


def run_sb3(task: dict, seed: int, same_settings: bool) -> dict:
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    from ecs_rl.adapters.gym_loop import evaluate

    from ecs_rl.algorithms import DqnConfig, configure_torch

    if same_settings:
        configure_torch()

    c = config_for(task, seed)
    net = list(c.hidden)
    if isinstance(c, DqnConfig):
        env = gym.make(task["env"])
        model = DQN(
            "MlpPolicy", env, seed=seed, policy_kwargs=dict(net_arch=net), learning_rate=c.learning_rate,
            batch_size=c.batch_size, buffer_size=c.buffer_size, learning_starts=c.learning_starts, gamma=c.gamma,
            target_update_interval=c.target_update_interval, tau=c.tau, train_freq=c.train_freq,
            gradient_steps=c.gradient_steps, max_grad_norm=c.max_grad_norm,
            exploration_initial_eps=c.epsilon_start, exploration_final_eps=c.epsilon_end,
            exploration_fraction=c.epsilon_decay_steps / task["steps"],
        )
    else:
        env = make_vec_env(task["env"], n_envs=task["n_envs"], seed=seed)
        lr, clip = c.learning_rate, c.clip_range
        model = PPO(
            "MlpPolicy", env, seed=seed, policy_kwargs=dict(net_arch=dict(pi=net, vf=net), log_std_init=c.log_std_init),
            learning_rate=(lambda p: lr * p) if c.anneal_lr else lr,
            clip_range=(lambda p: clip * p) if c.anneal_clip else clip,
            n_steps=c.n_steps, batch_size=c.batch_size, n_epochs=c.n_epochs, gamma=c.gamma, gae_lambda=c.gae_lambda,
            ent_coef=c.ent_coef, vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm,
            normalize_advantage=c.normalize_advantage,
        )

    class Eval(BaseCallback):
        def __init__(self):
            super().__init__()
            self.evals, self.seconds, self.next = [], 0.0, task["eval_freq"]

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next:
                self.next += task["eval_freq"]
                t = time.perf_counter()
                records = evaluate(Sb3Policy(self.model), lambda: gym.make(task["env"]), 20)
                self.seconds += time.perf_counter() - t
                self.evals.append((self.num_timesteps, float(np.mean([r.total_reward for r in records]))))
            return True

    callback = Eval()
    started = time.perf_counter()
    model.learn(task["steps"], callback=callback)
    wall = time.perf_counter() - started
    return {"train_seconds": wall - callback.seconds, "evals": callback.evals}


def child(task_name: str, library: str, seed: int) -> None:
    task = TASKS[task_name]
    out = run_ours(task, seed) if library == "ours" else run_sb3(task, seed, same_settings=library == "sb3-same")
    print(json.dumps(out))


def spawn(task_name: str, library: str, seed: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", task_name, library, str(seed)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{library} seed {seed} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(task_name: str, results: dict[str, list[dict]]) -> list[str]:
    """The table README quotes: benchmarks/report.py renders it, from the same figures as --write writes."""
    return sb3_table(task_name, {"task": TASKS[task_name], "results": results})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--libraries", default="ours,sb3,sb3-same")
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    libraries = args.libraries.split(",")
    if libraries[0] != "ours":
        parser.error("--libraries must start with 'ours'")
    unknown = [lib for lib in libraries if lib not in ("ours", "sb3", "sb3-same")]
    if unknown:
        parser.error(f"--libraries: unknown library {unknown[0]!r} (choose from ours, sb3, sb3-same)")
    task_names = list(TASKS) if args.task == "all" else [args.task]
    report: list[str] = []
    for task_name in task_names:
        load = load_average()
        results: dict[str, list[dict]] = {lib: [] for lib in libraries}
        for seed in range(args.seeds):
            for lib in libraries:
                r = spawn(task_name, lib, seed)
                results[lib].append(r)
                print(f"{task_name} seed {seed} {lib:9s} train {r['train_seconds']:6.1f}s  evals "
                      f"{[round(m) for _, m in r['evals']]}", flush=True)
        write(task_name, {"meta": meta(load), "task": TASKS[task_name], "seeds": list(range(args.seeds)),
                          "results": results}, args.write)
        report += summarise(task_name, results) + [""]
    print("\n".join(report))


if __name__ == "__main__":
    main()
