#!/usr/bin/env bash
# Create ./.venv (or $ECS_RL_VENV) and install ecs-rl with its dev extra into it.
# Idempotent: reinstalls only when pyproject.toml or the constraints change. Sourced by the other scripts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${ECS_RL_VENV:-$root/.venv}"
want="$(cat "$root/pyproject.toml" "$root/requirements/dev-constraints.txt" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.ecs-rl-installed"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing ecs-rl and its dependencies into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -c "$root/requirements/dev-constraints.txt" -e "$root[dev]"
  echo "$want" > "$stamp"
fi
export ECS_RL_PYTHON="$venv/bin/python"
