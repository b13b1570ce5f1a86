"""CartPole, drawn with pygame, on the reference ECS world.

    python demos/cartpole.py train [--render] [--steps N]   # same as: ecs-rl train cartpole ...
    python demos/cartpole.py watch runs/cartpole            # the best checkpoint, greedy, in a window
    python demos/cartpole.py play                           # you push the cart: left / right arrows
"""

import sys

from ecs_rl.cli import main

if __name__ == "__main__":
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("train", [])
    sys.exit(main([command, "cartpole", *rest] if command in ("train", "play") else [command, *rest]))
