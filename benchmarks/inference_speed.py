"""What a shipped agent costs per decision: the exported numpy and ONNX policies against torch's GreedyPolicy.

    python benchmarks/inference_speed.py                  # ~1 min; needs the onnx extra (pip install -e ".[onnx]")
    python benchmarks/inference_speed.py --blas-threads 0   # numpy's BLAS with its own default thread count
    python benchmarks/inference_speed.py --write   # and write benchmarks/results/inference-speed.json
                                                   # (inference-speed-blas<N>.json with --blas-threads N != 1)

Trains CartPole with DQN for a few thousand steps (``ecs-rl train``), exports its best.pt to .npz and .onnx,
and prints (1) the file sizes, (2) the time of one ``act_batch`` call at batch 1 and batch 256 for the numpy
policy, the onnxruntime policy (one thread) and the torch policy (``configure_torch()``: one thread), measured
in interleaved rounds (each round times every policy once; the median round is reported) so that the noise of
a shared machine falls on all of them alike, with each one's ratio to torch.

Every policy computes on one thread by default: ``--blas-threads 1`` sets ``OPENBLAS_NUM_THREADS`` (and its
MKL / OpenMP siblings) for this process before numpy is imported. With BLAS's default (all cores), a 256-row
matmul is split across threads, which on a busy 2-core machine costs far more than it saves (see the README).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # BLAS reads its thread count when numpy is first imported: set it before
    _threads = sys.argv[sys.argv.index("--blas-threads") + 1] if "--blas-threads" in sys.argv else "1"
    if _threads != "0":
        for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[_var] = _threads

import numpy as np
from results_file import add_write_option, check_folder, load_average, meta, write


def per_call(act, obs: np.ndarray, seconds: float) -> float:
    """Mean seconds of one ``act(obs)`` call over about ``seconds`` of calls."""
    act(obs)
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(50):
            act(obs)
        calls += 50
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.25, help="timing per policy, batch size and round")
    parser.add_argument("--steps", type=int, default=3_000, help="DQN training steps before the export")
    parser.add_argument("--blas-threads", type=int, default=1, help="numpy's BLAS threads (0: its default)")
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load = load_average()

    from ecs_rl.algorithms import GreedyPolicy, configure_torch
    from ecs_rl.cli import main as cli
    from ecs_rl.inference import load_policy

    configure_torch()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        assert cli(["train", "cartpole", "--steps", str(args.steps), "--eval-freq", str(args.steps // 3),
                    "--root", str(root / "runs")]) == 0
        (run,) = (root / "runs").glob("cartpole/dqn/*")
        best = run / "checkpoints" / "best.pt"
        files = {"best.pt": best, ".onnx": root / "cartpole.onnx", ".npz": root / "cartpole.npz"}
        for ext in (".onnx", ".npz"):
            assert cli(["export", str(run), "-o", str(files[ext])]) == 0
        sizes = {name: path.stat().st_size for name, path in files.items()}
        policies = {"numpy (.npz)": load_policy(files[".npz"]), "onnxruntime (.onnx)": load_policy(files[".onnx"]),
                    "torch (best.pt)": GreedyPolicy.load(best)}
        arch = policies["numpy (.npz)"].spec.sizes

        rng = np.random.default_rng(0)
        batches = {n: (rng.normal(size=(n, 4)) * 0.2).astype(np.float32) for n in (1, 256)}
        for n, obs in batches.items():  # all three choose the same actions
            acts = [p.act_batch(obs) for p in policies.values()]
            assert all((a == acts[0]).all() for a in acts), f"the policies disagree at batch {n}"
        times: dict[tuple[str, int], list[float]] = {(p, n): [] for p in policies for n in batches}
        for _ in range(args.rounds):
            for n, obs in batches.items():
                for name, policy in policies.items():
                    times[name, n].append(per_call(policy.act_batch, obs, args.seconds))

    blas = "BLAS default threads" if args.blas_threads == 0 else f"BLAS threads {args.blas_threads}"
    print(f"\nCartPole DQN, MLP {list(arch)}, {args.rounds} interleaved rounds of {args.seconds}s per policy and batch;"
          f" median round; numpy: {blas}\n")
    print("| file | bytes | vs best.pt |\n|---|---:|---:|")
    for name, size in sizes.items():
        print(f"| {name} | {size:,} | {size / sizes['best.pt']:.2f}x |")
    print("\n| policy | batch 1: us per decision | vs torch | batch 256: us per call | us per decision | vs torch |")
    print("|---|---:|---:|---:|---:|---:|")
    med = {k: statistics.median(v) for k, v in times.items()}
    torch_1, torch_256 = med["torch (best.pt)", 1], med["torch (best.pt)", 256]
    for name in policies:
        one, many = med[name, 1], med[name, 256]
        print(f"| {name} | {one * 1e6:.1f} | {one / torch_1:.2f}x | {many * 1e6:.1f} | {many / 256 * 1e6:.3f} | "
              f"{many / torch_256:.2f}x |")
    name = "inference-speed" if args.blas_threads == 1 else f"inference-speed-blas{args.blas_threads}"
    write(name, {"meta": meta(load), "arch": list(arch), "rounds": args.rounds, "seconds": args.seconds,
                 "train_steps": args.steps, "blas_threads": args.blas_threads, "bytes": sizes,
                 "seconds_per_call": {policy: {str(n): times[policy, n] for n in batches} for policy in policies}},
          args.write)


if __name__ == "__main__":
    main()
