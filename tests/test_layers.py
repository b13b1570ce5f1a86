"""The architecture's import rules, checked in a fresh interpreter."""

import subprocess
import sys


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_imports_neither_esper_torch_nor_pygame():
    loaded = imported_after("import ecs_rl, ecs_rl.core, ecs_rl.cli")
    assert "ecs_rl" in loaded
    assert not loaded & {"esper", "torch", "pygame"}
