"""Every code block of README.md runs as written, in the README's order, in one directory laid out like a clone.

- ``python`` blocks run as scripts (``python block.py``) in that directory, headless (SDL's dummy drivers);
- ``bash`` blocks run as ``bash -e`` scripts there, with this environment's ``ecs-rl`` and ``python`` first on
  PATH; a block may use what an earlier one made (the export block exports the Quickstart's run), as a reader's
  would;
- ``toml`` blocks must parse; ``text`` blocks (a directory tree, the command synopsis) are not code: every
  option the synopsis names must be one its command accepts.

A block that does not run as written fails its test. The exceptions are all in ``CHANGED`` below, each with
its reason: a command left out, or run with a smaller budget or a frame limit (text replaced before the block
runs; a replacement that no longer matches the README fails too).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

#: README text -> what runs instead, and why. Keys are exact README text (a whole command line for bash).
CHANGED: dict[str, tuple[str | None, str]] = {
    # the two commands
    "bash scripts/run-tests.sh    # the test suite (CI runs exactly this)":
        (None, "the suite itself: running it inside the suite is circular"),
    "bash scripts/run-main.sh     # main job: train DQN on the ECS CartPole world until solved, print the report":
        ("bash scripts/run-main.sh --steps 2000 --eval-freq 1000",
         "trains until solved (10-50 s): a smaller budget; its setup step finds the environment installed"),
    # installing elsewhere
    'pip install "ecs-rl[render]"                                          # with an NVIDIA GPU: PyPI\'s torch, '
    "CUDA included": (None, "installs into the environment the suite runs in"),
    "pip install torch --index-url https://download.pytorch.org/whl/cpu    # without one: torch's CPU wheels "
    "first ...": (None, "installs into the environment the suite runs in"),
    'pip install "ecs-rl[render]"                                          # ... then ecs-rl, which keeps that '
    "torch": (None, "installs into the environment the suite runs in"),
    # the Quickstart
    "with_max_steps(50_000)": ("with_max_steps(2_000)", "50 000 steps take 30-60 s: a smaller budget"),
    "every=5_000, episodes=20": ("every=1_000, episodes=20", "evaluations within the smaller budget (best.pt)"),
    # windows that stay open until closed: a frame limit (the hidden --max-frames of the commands)
    "ecs-rl watch runs/catch                          # the picture above":
        ("ecs-rl watch runs/catch --max-frames 20", "a window open until closed: 20 frames"),
    "ecs-rl play demos/catch.py                       # you take one lane, with the arrow keys":
        ("ecs-rl play demos/catch.py --max-frames 20", "a window open until closed: 20 frames"),
    "python demos/shipped_game.py cartpole.npz         # CartPole played by the file: numpy, esper and pygame, "
    "no torch": ("python demos/shipped_game.py cartpole.npz --max-frames 20", "a window open until closed: 20 frames"),
    # Ray
    "ecs-rl train foragers --workers 2                              # a local Ray, started for the run":
        (None, "starting Ray takes 10-30 s here; tests/test_distributed.py trains through --workers 2"),
    "ecs-rl train foragers --workers 8 --envs 256 --ray-address auto   # on a cluster's head node":
        (None, "needs a Ray cluster"),
}

#: python blocks that are excerpts of a file: run in that file's namespace (the names the excerpt uses)
EXCERPTS = {
    "observation_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)": "demos/catch.py",
    "def make_game() -> Game:": "demos/catch.py",
}


@dataclass
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang}"


def readme_blocks(path: Path = README) -> list[Block]:
    """The fenced code blocks of a Markdown file (list items' indented ones included), in order."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    return [Block(t.info.split()[0] if t.info.strip() else "", t.content, t.map[0] + 1)
            for t in tokens if t.type == "fence"]


def as_run(block: Block) -> str | None:
    """The block's text with the ``CHANGED`` replacements (None: nothing of it runs)."""
    lines = []
    for line in block.text.splitlines():
        new = CHANGED[line.strip()][0] if line.strip() in CHANGED else line
        if new is not None:  # None: the command is left out
            lines.append(new)
    text = "\n".join(lines) + "\n"
    for old, (new, _) in CHANGED.items():  # replacements inside a line
        if new is not None:
            text = text.replace(old, new)
    return text if any(line.strip() and not line.strip().startswith("#") for line in lines) else None


def clone_like(where: Path) -> Path:
    """A directory that looks like a clone (the repository's top-level entries linked in), without runs."""
    where.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name not in {".git", ".venv", "runs", ".pytest_cache"} and not entry.name.endswith(".egg-info"):
            (where / entry.name).symlink_to(entry)
    return where


def environment() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "ECS_RL_VENV": sys.prefix,
            "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


def run_block(block: Block, where: Path, timeout: float = 240) -> subprocess.CompletedProcess | None:
    """Run one block in ``where`` (see the module docstring); None when nothing of it runs."""
    text = as_run(block)
    if text is None or block.lang == "text":
        return None
    if block.lang == "toml":
        tomllib.loads(text)
        return None
    if block.lang == "python":
        source = where / f"readme_{block.line}.py"
        excerpt_of = next((f for start, f in EXCERPTS.items() if text.startswith(start)), None)
        if excerpt_of is not None:  # run in the namespace of the file it is an excerpt of
            text = (f"import runpy\n__ns = runpy.run_path({str(where / excerpt_of)!r}, run_name='excerpt')\n"
                    f"exec(compile({text!r}, 'README.md:{block.line}', 'exec'), __ns)\n")
        source.write_text(text, encoding="utf-8")
        command = [sys.executable, source.name]
    elif block.lang == "bash":
        command = ["bash", "-e", "-o", "pipefail", "-c", text]
    else:
        raise AssertionError(f"README.md:{block.line}: a {block.lang or 'plain'!r} block; say how it runs in "
                             "tests/test_readme.py, or mark it text")
    return subprocess.run(command, cwd=where, env=environment(), capture_output=True, text=True, timeout=timeout)


def check(block: Block, proc: subprocess.CompletedProcess | None) -> None:
    if proc is not None and proc.returncode != 0:
        pytest.fail(f"README.md:{block.line}: the {block.lang} block failed (exit {proc.returncode}):\n"
                    f"{as_run(block)}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")


BLOCKS = readme_blocks()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return clone_like(tmp_path_factory.mktemp("readme") / "clone")


def check_scripts_find_this_environment() -> None:
    """The scripts reinstall unless this environment's stamp is this checkout's (they would then install into
    it from the temporary directory): run them only in an environment that scripts/setup-env.sh set up."""
    stamp = Path(sys.prefix) / ".ecs-rl-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()
                          + (ROOT / "requirements" / "dev-constraints.txt").read_bytes()).hexdigest()
    if not stamp.is_file() or stamp.read_text().strip() != want:
        pytest.fail(f"{sys.prefix} was not set up by scripts/setup-env.sh for this checkout: run the tests with "
                    "bash scripts/run-tests.sh")


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs_as_written(block, workdir):
    if block.lang == "bash" and "scripts/" in (as_run(block) or ""):
        check_scripts_find_this_environment()
    check(block, run_block(block, workdir))


def test_every_change_to_a_readme_block_is_still_in_the_readme():
    """A ``CHANGED`` entry whose text the README no longer has would hide nothing: it must go."""
    texts = "\n".join(b.text for b in BLOCKS)
    assert [old for old in CHANGED if old not in texts] == []
    assert [start for start in EXCERPTS if not any(b.text.startswith(start) for b in BLOCKS)] == []
    assert {b.lang for b in BLOCKS} <= {"python", "bash", "toml", "text"}


def test_the_synopsis_names_only_options_the_commands_take():
    from ecs_rl.cli import build_parser

    (synopsis,) = [b.text for b in BLOCKS if b.lang == "text" and b.text.startswith("ecs-rl train")]
    parser = build_parser()
    commands = {"": parser, **next(a for a in parser._actions if a.dest == "command").choices}
    command, named = None, {}
    for line in synopsis.splitlines():
        words = line.split("#")[0].split()
        if line.startswith("ecs-rl "):  # a command's first line; "ecs-rl --version" is the top level's
            command = "" if words[1].startswith("-") else words[1]
        named.setdefault(command, set()).update(re.findall(r"(?<![\w-])(-{1,2}[a-z][\w-]*)", line.split("#")[0]))
    assert None not in named and set(named) <= set(commands)
    unknown = {c: sorted(flags - set(commands[c]._option_string_actions)) for c, flags in named.items()}
    assert {c: f for c, f in unknown.items() if f} == {}
    assert named["eval"] >= {"--game", "--episodes"} and named["watch"] >= {"--game", "--screenshot"}


def test_a_block_that_does_not_run_as_written_fails(tmp_path):
    """The harness itself: a broken copy of a README's blocks fails, naming the README line."""
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n```python\nimport ecs_rl\nprint(ecs_rl.no_such_name)\n```\n\n"
                      "1. A step:\n   ```bash\n   ecs-rl trian cartpole\n   ```\n\n"
                      "```python\nprint('fine')\n```\n\n```toml\n[a\n```\n", encoding="utf-8")
    blocks = readme_blocks(readme)
    assert [(b.lang, b.line) for b in blocks] == [("python", 3), ("bash", 9), ("python", 13), ("toml", 17)]
    where = clone_like(tmp_path / "clone")
    failed = run_block(blocks[0], where)
    assert failed.returncode == 1 and "AttributeError" in failed.stderr
    with pytest.raises(pytest.fail.Exception, match="README.md:3: the python block failed"):
        check(blocks[0], failed)
    failed = run_block(blocks[1], where)
    assert failed.returncode == 2 and "invalid choice: 'trian'" in failed.stderr
    with pytest.raises(pytest.fail.Exception, match="README.md:9: the bash block failed"):
        check(blocks[1], failed)
    check(blocks[2], run_block(blocks[2], where))
    with pytest.raises(tomllib.TOMLDecodeError):
        run_block(blocks[3], where)
