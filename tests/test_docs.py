"""The API reference site: its strict build fails on a broken cross-reference or a missing page, and the
command-line page is generated from the parser (scripts/run-tests.sh builds the whole site strictly)."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parent.parent


def _hook():
    spec = importlib.util.spec_from_file_location("ecs_rl_docs_cli_hook", ROOT / "docs" / "hooks" / "cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(tmp_path: Path, pages: dict[str, str], nav: list) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the project's own configuration (theme, plugins, validation, hook) over
    ``pages`` in a docs directory of their own."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in pages.items():
        (docs / name).write_text(text)
    config.update(docs_dir=str(docs), site_dir=str(tmp_path / "site"), nav=nav,
                  hooks=[str(ROOT / "docs" / "hooks" / "cli.py")])
    config["markdown_extensions"] = [
        {"pymdownx.snippets": {"base_path": [str(ROOT)], "check_paths": True}} if
        isinstance(ext, dict) and "pymdownx.snippets" in ext else ext for ext in config["markdown_extensions"]]
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            plugin["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT), str(tmp_path)]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml")],
                          capture_output=True, text=True, cwd=tmp_path, env={"NO_MKDOCS_2_WARNING": "1",
                                                                              "PATH": "/usr/bin:/bin"})


GOOD = "# Page\n\n[`TrainingSession`][ecs_rl.core.TrainingSession] is documented below.\n\n::: ecs_rl.core.TrainingSession\n"


def test_strict_build_passes_a_sound_site(tmp_path):
    result = _build(tmp_path, {"index.md": GOOD}, ["index.md"])
    assert result.returncode == 0, result.stderr
    assert "TrainingSession" in (tmp_path / "site" / "index.html").read_text()


def test_strict_build_fails_on_a_broken_cross_reference(tmp_path):
    broken = GOOD.replace("[ecs_rl.core.TrainingSession]", "[ecs_rl.core.NoSuchSession]")
    result = _build(tmp_path, {"index.md": broken}, ["index.md"])
    assert result.returncode != 0
    assert "ecs_rl.core.NoSuchSession" in result.stderr


def test_strict_build_fails_on_a_missing_page(tmp_path):
    result = _build(tmp_path, {"index.md": GOOD + "\nSee [the guide](guide.md).\n"}, ["index.md", "missing.md"])
    assert result.returncode != 0
    assert "missing.md" in result.stderr and "guide.md" in result.stderr


def test_strict_build_fails_on_a_docstring_naming_no_parameter(tmp_path):
    # Google-style Args are checked against the signature: a renamed parameter cannot leave its docs behind.
    (tmp_path / "docprobe.py").write_text(
        'def step(until: int) -> int:\n    """Run.\n\n    Args:\n        untill: how long.\n    """\n    return until\n')
    result = _build(tmp_path, {"index.md": "# Page\n\n::: docprobe.step\n"}, ["index.md"])
    assert result.returncode != 0
    assert "Parameter 'untill' does not appear in the function signature" in result.stderr


def test_strict_build_fails_on_a_missing_include(tmp_path):
    result = _build(tmp_path, {"index.md": '# Page\n\n--8<-- "benchmarks/NO_SUCH_FILE.md"\n'}, ["index.md"])
    assert result.returncode != 0
    assert "NO_SUCH_FILE.md" in result.stderr


def test_cli_page_lists_every_command_and_flag_of_the_parser():
    from ecs_rl.cli import build_parser

    parser = build_parser()
    page = _hook().render(parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) >= {"train", "eval", "watch", "play", "export", "plot", "runs", "dashboard"}
    for name, command in sub.choices.items():
        assert f"## `ecs-rl {name}`" in page
        for action in command._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for opt in action.option_strings:
                assert f"`{opt}`" in page, f"ecs-rl {name} {opt} is missing from the CLI page"


def test_a_flag_added_to_the_parser_appears_on_the_page_with_its_help():
    from ecs_rl.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["runs"].add_argument("--newest-first", action="store_true", help="sort runs by <date> *newest* first")
    sub.choices["runs"].add_argument("--secret", help=argparse.SUPPRESS)
    page = _hook().render(parser)
    section = page[page.index("## `ecs-rl runs`"):page.index("## `ecs-rl dashboard`")]
    assert "`--newest-first`" in section
    assert "sort runs by &lt;date&gt; \\*newest\\* first" in section  # shown as written, not as HTML or emphasis
    assert "--secret" not in page
