"""Foragers: 16 agents share one learned policy in one arena, chasing food and avoiding each other.

    python demos/foragers.py train [--render] [--steps N]   # same as: ecs-rl train foragers ...
    python demos/foragers.py watch runs/foragers            # the trained agents in a window
    python demos/foragers.py play [--run runs/foragers]     # you steer the orange one with the arrows
"""

import sys

from ecs_rl.cli import main

if __name__ == "__main__":
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("train", [])
    sys.exit(main([command, "foragers", *rest] if command in ("train", "play") else [command, *rest]))
