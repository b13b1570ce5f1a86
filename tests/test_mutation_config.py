"""The mutation run's test selection (pyproject.toml, [tool.mutmut]) holds every test file written against
mutants: a file left out would leave its mutants alive in every later sample."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def selection() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    return config["pytest_add_cli_args_test_selection"]


def test_every_mutant_test_file_is_in_the_mutation_selection():
    written = {f"tests/{p.name}" for p in (ROOT / "tests").glob("test_*mutants*.py")}
    assert written, "no tests/test_*mutants*.py found"
    missing = sorted(written - set(selection()))
    assert not missing, f"pyproject.toml [tool.mutmut] pytest_add_cli_args_test_selection lacks {missing}"


def test_every_selected_test_file_exists():
    gone = [name for name in selection() if not (ROOT / name).is_file()]
    assert not gone, f"pyproject.toml [tool.mutmut] selects test files that do not exist: {gone}"


def _mutation_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = '''class A:
    def size(self):
        return 1


class B:
    def size(self):
        return 2
'''


def test_a_shown_mutant_is_placed_in_its_own_method_only(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(SOURCE, encoding="utf-8")
    # mutmut shows a method dedented, numbered from the function's first line
    shown = ("# pkg.m.xǁBǁsize__mutmut_1: survived\n--- pkg/m.py\n+++ pkg/m.py\n@@ -1,2 +1,2 @@\n"
             " def size(self):\n-    return 2\n+    return 3\n")
    assert _mutation_script().place(shown, tmp_path)
    assert (tmp_path / "pkg" / "m.py").read_text(encoding="utf-8") == SOURCE.replace("return 2", "return 3")


def test_a_mutant_whose_lines_are_not_found_once_is_not_placed(tmp_path):
    (tmp_path / "pkg").mkdir()
    twice = SOURCE.replace("return 2", "return 1")  # both methods now read the same
    (tmp_path / "pkg" / "m.py").write_text(twice, encoding="utf-8")
    place = _mutation_script().place
    shown = "--- pkg/m.py\n+++ pkg/m.py\n@@ -1,2 +1,2 @@\n def size(self):\n-    return 1\n+    return 0\n"
    assert not place(shown, tmp_path)  # ambiguous: A's or B's
    assert place(shown, tmp_path, name="pkg.m.xǁBǁsize__mutmut_1")  # B's, named
    assert (tmp_path / "pkg" / "m.py").read_text(encoding="utf-8") == SOURCE.replace("return 2", "return 0")
    (tmp_path / "pkg" / "m.py").write_text(twice, encoding="utf-8")
    assert not place(shown, tmp_path, name="pkg.m.xǁCǁsize__mutmut_1")  # no such class
    assert not place(shown.replace("return 1", "return 9", 1), tmp_path)  # not there at all
    assert not place("# nothing to show\n", tmp_path)
    assert (tmp_path / "pkg" / "m.py").read_text(encoding="utf-8") == twice


@pytest.mark.parametrize("source, shown, name, placed", [
    # mutmut dedents a method's code lines but not the inside of its strings
    ('class A:\n    def size(self):\n        """The size:\n        always one."""\n        return 1\n',
     '--- m.py\n+++ m.py\n@@ -1,3 +1,3 @@\n def size(self):\n     """The size:\n'
     '         always one."""\n-    return 1\n+    return 2\n', "",
     'class A:\n    def size(self):\n        """The size:\n        always one."""\n        return 2\n'),
    # nor a continuation line's indent: a mutant joining a continued condition takes the statement's indent
    ("class A:\n    def due(self, a, b):\n        if a and \\\n                b:\n            return 1\n"
     "        return 0\n",
     "--- m.py\n+++ m.py\n@@ -1,5 +1,4 @@\n def due(self, a, b):\n-    if a and \\\n"
     "-                b:\n+    if a or b:\n         return 1\n     return 0\n", "m.xǁAǁdue__mutmut_1",
     "class A:\n    def due(self, a, b):\n        if a or b:\n            return 1\n        return 0\n"),
], ids=["docstring", "continued-condition"])
def test_a_mutant_is_placed_with_the_indent_mutmut_dedented_away(tmp_path, source, shown, name, placed):
    (tmp_path / "m.py").write_text(source, encoding="utf-8")
    assert _mutation_script().place(shown, tmp_path, name=name)
    assert (tmp_path / "m.py").read_text(encoding="utf-8") == placed


def test_a_stratified_sample_draws_as_many_from_each_package_and_repeats_with_its_seed():
    stratified = _mutation_script().stratified
    names = ([f"ecs_rl.core.run.x_f__mutmut_{i}" for i in range(1, 41)]
             + [f"ecs_rl.ecs.plugin.x_g__mutmut_{i}" for i in range(1, 6)]
             + [f"ecs_rl.algorithms.dqn.x_h__mutmut_{i}" for i in range(1, 31)]
             + ["ecs_rl.cli.x_main__mutmut_1"])
    sample = stratified(names, 10, seed=3)
    by_package = {p: [n for n in sample if n.startswith(p + ".")]
                  for p in ("ecs_rl.core", "ecs_rl.ecs", "ecs_rl.algorithms")}
    assert [len(v) for v in by_package.values()] == [10, 5, 10]  # ecs/ has only 5: all of them
    assert len(sample) == 25 and len(set(sample)) == 25 and sample == sorted(sample)
    assert set(sample) <= set(names) and "ecs_rl.cli.x_main__mutmut_1" not in sample
    assert stratified(names, 10, seed=3) == sample
    assert stratified(names, 10, seed=4) != sample


MUTATED_MODULE = '''import os
import time

CALLS = []


def double(x):
    CALLS.append(x)  # state a test sees: each mutant must start from the collected state, not the last one's
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if mutant.endswith("double__mutmut_1"):
        return x * 3
    if mutant.endswith("double__mutmut_3"):
        while True:
            time.sleep(0.05)
    return x + x if mutant.endswith("double__mutmut_2") else 2 * x
'''


def test_the_forking_runner_gives_each_mutant_its_verdict_from_a_fresh_copy_of_the_collected_session(tmp_path):
    """scripts/mutation_fork.py, on a module that picks its mutant by MUTANT_UNDER_TEST as mutmut's do."""
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "pkg_m.py").write_text(MUTATED_MODULE, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_m.py").write_text(
        "import pkg_m\n\ndef test_double():\n    assert pkg_m.double(2) == 4 and pkg_m.CALLS == [2]\n\n"
        "def test_unrelated():\n    assert False  # reaches no mutant: never run\n", encoding="utf-8")
    (tmp_path / "stats.json").write_text(json.dumps({
        "tests_by_mangled_function_name": {"pkg_m.x_double": ["tests/test_m.py::test_double"]},
        "duration_by_test": {"tests/test_m.py::test_double": 0.01}}), encoding="utf-8")
    names = [f"pkg_m.x_double__mutmut_{i}" for i in (1, 2, 2, 3)] + ["pkg_m.x_other__mutmut_1"]
    (tmp_path / "list.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    out = tmp_path / "out.json"
    out.write_text(json.dumps({"pkg_m.x_double__mutmut_9": "killed"}), encoding="utf-8")  # an earlier run's
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), str(tmp_path)]),
           "MUTATION_FORK_LIST": str(tmp_path / "list.txt"), "MUTATION_FORK_OUT": str(out),
           "MUTATION_FORK_STATS": str(tmp_path / "stats.json"), "MUTATION_FORK_JOBS": "1",
           "MUTATION_FORK_MIN_TIMEOUT": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "mutation_fork", "-p", "no:cacheprovider", "-q",
                          "tests/test_m.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == {
        "pkg_m.x_double__mutmut_9": "killed", "pkg_m.x_double__mutmut_1": "killed",
        "pkg_m.x_double__mutmut_2": "survived", "pkg_m.x_double__mutmut_3": "timeout",
        "pkg_m.x_other__mutmut_1": "no tests"}
    assert "survived" in run.stdout and "timeout" in run.stdout
