#!/usr/bin/env bash
# Set up the environment (first run only), build the docs strictly, and run the test suite.
# Extra arguments go to pytest. The docs build (mkdocs build --strict into a temporary directory, removed
# afterwards) fails the command on any warning: a broken link or cross-reference, a missing page.
# ECS_RL_DOCS=0 skips it (for quick runs of single test files while working).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-env.sh"
cd "$root"
export SDL_VIDEODRIVER="${SDL_VIDEODRIVER:-dummy}" SDL_AUDIODRIVER="${SDL_AUDIODRIVER:-dummy}"
if [ "${ECS_RL_DOCS:-1}" != "0" ]; then
  site="$(mktemp -d)"
  trap 'rm -rf "$site"' EXIT
  NO_MKDOCS_2_WARNING=1 "$ECS_RL_PYTHON" -m mkdocs build --strict --site-dir "$site" \
    || { echo "docs: mkdocs build --strict failed (see the warnings above)" >&2; exit 1; }
fi
"$ECS_RL_PYTHON" -m pytest "$@"
