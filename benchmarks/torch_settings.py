"""Why ``configure_torch()`` defaults to one torch thread and flush-denormal, and the agents use contiguous
parameters and FlatAdam.

    python benchmarks/torch_settings.py           # ~1 min
    python benchmarks/torch_settings.py --write   # and write benchmarks/results/torch-settings.json

Times one DQN-style update step (forward, Huber loss, backward, clip, Adam) on a batch of 64, for
64-wide and 256-wide MLPs, each setting against the baseline in the same run (ratios < 1: faster).
Each variant runs in its own subprocess (thread count and denormal mode are process-wide).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from results_file import add_write_option, check_folder, load_average, meta, write


def child(hidden: int, threads: int, flush: bool, flat: bool) -> float:
    import torch
    import torch.nn.functional as F

    from ecs_rl.algorithms.common import FlatAdam, FlatParameters, mlp

    torch.set_num_threads(threads)
    torch.set_flush_denormal(flush)
    torch.manual_seed(0)
    net = mlp((4, hidden, hidden, 2), torch.nn.ReLU)
    if flat:
        params = FlatParameters(net)
        opt = FlatAdam(params.param, 1e-3)
        zero, clip = params.zero_grad, lambda: params.clip_grad_norm(10.0)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        zero = lambda: opt.zero_grad(set_to_none=True)  # noqa: E731
        clip = lambda: torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)  # noqa: E731
    x, y = torch.randn(64, 4), torch.randn(64, 2)

    def step():
        zero()
        F.smooth_l1_loss(net(x), y).backward()
        clip()
        opt.step()

    for _ in range(3000):  # long enough for Adam's second moments to drift towards denormals
        step()
    started = time.perf_counter()
    for _ in range(2000):
        step()
    return (time.perf_counter() - started) / 2000


VARIANTS = {  # name: (threads, flush_denormal, contiguous params + FlatAdam)
    "torch defaults (2 threads, torch.optim.Adam)": (2, False, False),
    "1 thread": (1, False, False),
    "1 thread + flush-denormal": (1, True, False),
    "1 thread + flush-denormal + flat params/FlatAdam (ecs-rl)": (1, True, True),
    "2 threads + flush-denormal + flat params/FlatAdam": (2, True, True),
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1")))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load, found = load_average(), {}
    for hidden in (64, 256):
        times = found[str(hidden)] = {}
        for name, (threads, flush, flat) in VARIANTS.items():
            out = subprocess.run([sys.executable, __file__, "--child", str(hidden), str(threads), str(int(flush)),
                                  str(int(flat))], capture_output=True, text=True, check=True).stdout
            times[name] = json.loads(out)
        base = times["torch defaults (2 threads, torch.optim.Adam)"]
        print(f"MLP 4-{hidden}-{hidden}-2, batch 64, one update step:")
        for name, t in times.items():
            print(f"  {name:58s} {t * 1e6:7.0f} us   {t / base:5.2f}x")
    write("torch-settings", {"meta": meta(load), "variants": VARIANTS, "seconds_per_update": found}, args.write)


if __name__ == "__main__":
    main()
