#!/usr/bin/env bash
# Set up the environment (first run only) and run the main job: train the CartPole demo headless
# until a greedy evaluation solves it (mean >= 475 over 20 episodes), then print the report.
# Extra arguments go to `ecs-rl train cartpole` (e.g. --steps 50000 --seed 3 --root /tmp/runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-env.sh"
cd "$root"
exec "$(dirname "$ECS_RL_PYTHON")/ecs-rl" train cartpole "$@"
