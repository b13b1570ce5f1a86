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


def test_plugin_and_worlds_know_agents_only_through_the_protocol():
    loaded = imported_after("import ecs_rl.ecs, ecs_rl.worlds.cartpole")
    assert "esper" in loaded
    assert not loaded & {"torch", "pygame"}


def test_algorithms_do_not_import_the_ecs_layer():
    code = "import sys, ecs_rl.algorithms; print(any(m.startswith('ecs_rl.ecs') or m == 'esper' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
