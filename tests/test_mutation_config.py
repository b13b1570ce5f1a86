"""The mutation run's test selection (pyproject.toml, [tool.mutmut]) holds every test file written against
mutants: a file left out would leave its mutants alive in every later sample."""

import tomllib
from pathlib import Path

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
