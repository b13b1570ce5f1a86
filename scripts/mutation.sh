#!/usr/bin/env bash
# Mutation testing of ecs_rl/core, ecs_rl/ecs and ecs_rl/algorithms (mutmut, config in pyproject.toml).
# Not part of CI (too slow). Arguments go to scripts/mutation.py:
#   --sample N (default 300; 0 = every mutant) or --per-package N (N from each package)  --seed S (default 18)
#   --jobs J (default 2)  --report-only
#   --exhaust PREFIX... [--tests FILE...]: every mutant of some functions or modules, in one forked pytest
#     session (scripts/mutation_fork.py; needs the stats of an earlier run; no score)
# Prints the score per package and overall, then the surviving mutants (show one with `mutmut show NAME`).
# Runs at the lowest CPU priority; mutmut's working copy is ./mutants (removed by `rm -rf mutants`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-env.sh"
cd "$root"
if ! "$ECS_RL_PYTHON" -c "import mutmut" 2>/dev/null; then
  echo "mutation: installing the mutation extra (mutmut)" >&2
  "$ECS_RL_PYTHON" -m pip install --quiet -c requirements/dev-constraints.txt -e ".[dev,mutation]"
fi
export SDL_VIDEODRIVER="${SDL_VIDEODRIVER:-dummy}" SDL_AUDIODRIVER="${SDL_AUDIODRIVER:-dummy}"
exec nice -n 19 "$ECS_RL_PYTHON" scripts/mutation.py "$@"
