#!/usr/bin/env bash
# Set up the environment (first run only) and run the main job: train and print the report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-env.sh"
cd "$root"
exec "$ECS_RL_PYTHON" demos/ecs_cartpole.py "$@"
