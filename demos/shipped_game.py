"""A shipped game: CartPole played by an exported policy, with numpy, esper and pygame only (no torch).

    ecs-rl train cartpole                                  # on the developer's machine (torch)
    ecs-rl export runs/cartpole -o cartpole.npz            # a 20 kB file
    python demos/shipped_game.py cartpole.npz              # the game, as a player gets it

The policy file is loaded with ``ecs_rl.inference.load_policy`` and installed with
``install(..., learning=False)``: greedy agents, no session, no run directory. The last line says which
heavy modules the process imported (torch is not among them, whether or not it is installed).
"""

from __future__ import annotations

import argparse
import os
import sys

# a game's main sets the process's threads, as ecs-rl's commands set torch's: numpy's BLAS on one thread
# (read when numpy is first imported), which a busy CPU needs for large batches (README, "Ship it")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import esper  # noqa: E402

from ecs_rl.ecs import FixedStep, install  # noqa: E402
from ecs_rl.inference import PolicyFileError, load_policy  # noqa: E402
from ecs_rl.worlds import cartpole  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="an exported policy file (.npz; .onnx needs onnxruntime)")
    parser.add_argument("--carts", type=int, default=1, help="cart-poles in the world (default 1; the first is drawn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-frames", type=int, help="close after N frames")
    parser.add_argument("--screenshot", metavar="PNG", help="save the last frame")
    args = parser.parse_args(argv)
    try:
        policy = load_policy(args.policy)
    except (PolicyFileError, ModuleNotFoundError) as exc:
        print(f"shipped_game: error: {exc}", file=sys.stderr)
        return 2
    if policy.obs_dim != 4 or policy.continuous or policy.spec.n_actions != 2:
        print(f"shipped_game: error: {args.policy} is not a CartPole policy (it reads {policy.obs_dim} numbers and "
              f"acts in {policy.action_space})", file=sys.stderr)
        return 2

    from ecs_rl.render.cartpole import draw_world
    from ecs_rl.render.window import Window, live_loop

    esper.switch_world("shipped-game")
    cartpole.build(args.carts, seed=args.seed)
    plugin = install({"cartpole": policy}, cartpole.reset, learning=False)
    stats = plugin.policies["cartpole"].stats

    def hud() -> list[str]:
        mean = stats.summary()["mean_reward"]
        return [f"{policy.source.name}: {policy.algorithm}, no torch",
                f"episodes {stats.episodes}" + (f", mean return {mean:.1f}" if stats.episodes else "")]

    window = Window((600, 400), f"CartPole: {policy.source.name}")
    try:
        ticks = live_loop(window, FixedStep(50.0), draw_world, hud, max_frames=args.max_frames)
        if args.screenshot:
            window.screenshot(args.screenshot)
    finally:
        window.close()
    running = [tracker.total_reward for _, (_, tracker) in plugin.life.known.items()]
    ended = f" (mean return {stats.summary()['mean_reward']:.1f})" if stats.episodes else ""
    heavy = sorted(m for m in ("torch", "onnxruntime", "tensorflow", "jax") if m in sys.modules)
    print(f"{ticks} ticks: {stats.episodes} episodes ended{ended}, returns so far of those running {running}; "
          f"heavy modules imported: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
