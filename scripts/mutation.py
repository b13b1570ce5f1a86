"""Mutation testing of ecs_rl/core, ecs_rl/ecs and ecs_rl/algorithms with mutmut (run by scripts/mutation.sh).

Mutmut's own ``run`` tries every mutant, which takes many hours here; this driver generates all mutants,
draws a fixed seeded sample of them (``--sample N --seed S``), has ``mutmut run`` try only those, and prints
the score per package and overall: killed / (killed + survived). A timeout (the mutant made the tests hang)
counts as killed and is said; a mutant no selected test reaches counts as survived. Mutants listed in
``tests/mutation_equivalents.md`` (equivalent to the original: no test can tell them apart) are left out
of the score and counted on their own line.

Run from the repository root with the venv that has the ``mutation`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

PACKAGES = ("ecs_rl.core", "ecs_rl.ecs", "ecs_rl.algorithms")
EQUIVALENTS = Path("tests/mutation_equivalents.md")
RECHECKED = Path("mutants/rechecked.json")  # survivors tried again after tests were added: name -> verdict
KILLED = {1: "killed", 3: "killed"}
TIMEOUT = {36, -24, 24, 152, 255, -9}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


def generate() -> None:
    """Write every mutant into ``mutants/`` (mutmut's own generation step, without running anything)."""
    from mutmut.__main__ import create_mutants
    from mutmut.mutation.trampoline import set_mutant_under_test
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

    set_mutant_under_test("mutant_generation")
    Path("mutants").mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    create_mutants(2)


def meta_files() -> list[Path]:
    """mutmut's result files of the modules the config mutates (a module dropped from it leaves a stale one)."""
    import fnmatch
    import tomllib

    config = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    found = []
    for meta in sorted(Path("mutants").glob("ecs_rl/**/*.py.meta")):
        source = str(meta.relative_to("mutants"))[: -len(".meta")]
        if any(fnmatch.fnmatch(source, p) for p in config.get("only_mutate", ["*"])) and \
                not any(fnmatch.fnmatch(source, p) for p in config.get("do_not_mutate", [])):
            found.append(meta)
    return found


def results() -> dict[str, int | None]:
    """Every mutant's name and mutmut's exit code for it (``None``: not tried)."""
    found: dict[str, int | None] = {}
    for meta in meta_files():
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    return found


def package_of(name: str) -> str:
    for package in PACKAGES:
        if name.startswith(package + "."):
            return package
    return "other"


def equivalents() -> set[str]:
    """Mutant names in backticks at the start of a list item of ``tests/mutation_equivalents.md``."""
    if not EQUIVALENTS.exists():
        return set()
    return set(re.findall(r"^- `([^`]+__mutmut_\d+)`", EQUIVALENTS.read_text(encoding="utf-8"), re.MULTILINE))


def tests_selected() -> list[str]:
    """The config's test selection, the files written against mutants first (they fail soonest under -x)."""
    import tomllib

    config = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    tests = config["pytest_add_cli_args_test_selection"]
    return sorted(tests, key=lambda t: "_mutants" not in t)


def place(shown: str, root: Path = Path("."), name: str = "") -> bool:
    """Put a mutant into the source under ``root``: ``shown`` is its diff as ``mutmut show`` prints it (the old
    lines of one function replaced by new ones); the old block must occur exactly once in the file. mutmut
    shows a method dedented, but not the inside of a multi-line string: each line may lack the indent, and a
    new line takes the indent its old line had. By text, not with ``mutmut apply``, which in mutmut 3.8.1 can
    put a method's mutant into another class's method of the same name; a method's mutant (``name`` holds
    ``xǁClassǁmethod``) is looked for in its class's body only. False: not placed."""
    lines = shown.splitlines()
    path = next((line[4:].strip() for line in lines if line.startswith("+++ ")), None)
    hunks = [i for i, line in enumerate(lines) if line.startswith("@@")]
    if path is None or len(hunks) != 1 or not (root / path).is_file():
        return False
    body = [(line[:1], line[1:]) if line else (" ", "") for line in lines[hunks[0] + 1:]]
    source = (root / path).read_text(encoding="utf-8")
    start, end = 0, len(source)
    if "ǁ" in name:  # a method: only its class's body (classes with the same method bodies are common)
        owner = re.search(rf"^class {re.escape(name.split('ǁ')[1])}\b.*\n", source, re.MULTILINE)
        if owner is None:
            return False
        after = re.search(r"^\S", source[owner.end():], re.MULTILINE)
        start, end = owner.end(), owner.end() + after.start() if after else len(source)
    for indent in ("", "    ", "        "):
        pattern = "".join(f"((?:{re.escape(indent)})?){re.escape(text)}\n" if text else "()\n"
                          for tag, text in body if tag in " -")
        found = [m for m in re.finditer(pattern, source) if start <= m.start() and m.end() <= end]
        if len(found) != 1:
            continue
        # a new line takes the indent of the first old line it replaces: mutmut leaves a continuation line of
        # a statement as it was (not dedented), so that line's missing indent is not the statement's
        prefixes, out, last, previous = iter(found[0].groups()), [], "", ""
        for tag, text in body:
            if tag in " -":
                prefix = next(prefixes)
                if tag == " " or previous != "-":
                    last = prefix
                if tag == " ":
                    out.append(last + text if text else "")
            else:
                out.append(last + text if text else "")
            previous = tag
        match = found[0]
        (root / path).write_text(source[:match.start()] + "".join(line + "\n" for line in out)
                                 + source[match.end():], encoding="utf-8")
        return True
    return False


def apply_mutant(name: str) -> bool:
    """Put mutant ``name`` into the source under ``ecs_rl/`` (see ``place``)."""
    return place(subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True,
                                text=True).stdout, name=name)


def try_by_hand(names: list[str], tests_for) -> list[str]:
    """Apply each mutant to the source in turn, run ``tests_for(name)`` with ``-x``, put the source back; record
    whether the tests failed (killed) in ``mutants/rechecked.json`` (the score counts such a survivor of
    mutmut's own run as killed). Returns the survivors."""
    done = json.loads(RECHECKED.read_text()) if RECHECKED.exists() else {}
    survivors = []
    for name in names:
        original = {p: p.read_bytes() for p in Path("ecs_rl").rglob("*.py")}
        try:
            if not apply_mutant(name):
                print(f"  not placed (see it with mutmut show): {name}", flush=True)
                continue
            tests = tests_for(name)
            try:
                result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                         *tests], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        timeout=600) if tests else None
                verdict = "killed" if result is not None and result.returncode != 0 else "survived"
            except subprocess.TimeoutExpired:
                verdict = "killed"  # a hang, as a mutation run counts it
        finally:
            for path, text in original.items():
                if path.read_bytes() != text:
                    path.write_bytes(text)
        done[name] = verdict
        if verdict == "survived":
            survivors.append(name)
        print(f"  {verdict}: {name}" + ("" if tests else " (no test reaches it)"), flush=True)
        RECHECKED.write_text(json.dumps(done, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return survivors


def recheck(names: list[str]) -> None:
    """Try the given survivors again against the whole test selection (after tests were added). Quicker than a
    second ``mutmut run`` for a few survivors; a "survived" verdict is worth a look at the mutant by hand."""
    try_by_hand(names, lambda name: tests_selected())


def exhaust(prefixes: list[str], tests: list[str]) -> list[str]:
    """Every mutant of the given functions (a mutant's name without ``__mutmut_N``) or modules
    (``ecs_rl.core.files``), each against ``tests`` plus the tests that reach its function (as a mutation run
    selects them, from mutmut's stats of an earlier run), all in one pytest session that forks a child per
    mutant (``scripts/mutation_fork.py``). Verdicts go to ``mutants/exhausted.json``; the survivors are
    returned."""
    def wanted(name: str) -> bool:
        function = name.rsplit("__mutmut_", 1)[0]
        return any(function == p or function.startswith(p + ".x") for p in prefixes)

    if not Path("mutants/mutmut-stats.json").exists():
        print("mutation: --exhaust needs the stats of an earlier run (which tests reach which function): run a "
              "sample first, e.g. --sample 10", file=sys.stderr)
        raise SystemExit(2)
    equivalent = equivalents()
    names = sorted((n for n in results() if wanted(n) and n not in equivalent),
                   key=lambda n: (n.rsplit("__mutmut_", 1)[0], int(n.rsplit("_", 1)[1])))
    print(f"mutation: trying all {len(names)} mutants of {', '.join(prefixes)} (equivalents listed in "
          f"{EQUIVALENTS} left out)", flush=True)
    for test in tests:  # new test files, not in the working copy mutmut made
        Path("mutants", test).parent.mkdir(parents=True, exist_ok=True)
        Path("mutants", test).write_bytes(Path(test).read_bytes())
    listing, out = Path("mutants/exhaust.txt"), Path("mutants/exhausted.json")
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    scripts = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(scripts), str(Path("mutants").resolve())]),
           "MUTATION_FORK_LIST": str(listing.resolve()), "MUTATION_FORK_OUT": str(out.resolve()),
           "MUTATION_FORK_FIRST": ",".join(tests)}
    selection = [*tests, *(t for t in tests_selected() if t not in tests)]
    subprocess.run([sys.executable, "-m", "pytest", "-p", "mutation_fork", "-p", "no:cacheprovider", "-q",
                    *selection], cwd="mutants", env=env, check=False)
    verdicts = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    survivors = [n for n in names if verdicts.get(n) in ("survived", "no tests")]
    print(f"\nmutation: {len(survivors)} of {len(names)} survived" + (":" if survivors else ""))
    for name in survivors:
        print(f"  {name}")
    return survivors


def stratified(names: list[str], per_package: int, seed: int) -> list[str]:
    """``per_package`` mutants drawn (seeded) from each package's own: a per-package score then rests on as many
    mutants in each package, rather than on the share a plain sample happens to give it (about a quarter of
    the mutants are in ecs/)."""
    rng = random.Random(seed)
    sample = []
    for package in PACKAGES:
        own = sorted(n for n in names if package_of(n) == package)
        sample += own if per_package >= len(own) else rng.sample(own, per_package)
    return sorted(sample)


def score(sample: list[str], codes: dict[str, int | None],
          equivalent: set[str]) -> tuple[list[str], list[str], dict[str, dict[str, float]]]:
    """Print the table; return the survivors, the mutants with an unexpected status and the table."""
    rows: dict[str, Counter] = {package: Counter() for package in (*PACKAGES, "overall")}
    survivors, odd = [], []
    rechecked = json.loads(RECHECKED.read_text()) if RECHECKED.exists() else {}
    for name in sample:
        code = codes.get(name)
        if code in SURVIVED and rechecked.get(name) == "killed":
            code = 1
        if name in equivalent:
            kind = "equivalent"
        elif code in KILLED:
            kind = "killed"
        elif code in TIMEOUT:
            kind = "timeout"
        elif code in SURVIVED:
            kind = "survived"
            survivors.append(name)
        elif code is None:
            kind = "not tried"
        else:
            kind = "other"
            odd.append(name)
        rows[package_of(name)][kind] += 1
        rows["overall"][kind] += 1
    table = {}
    print(f"{'package':<20}{'score':>8}{'killed':>8}{'timeout':>9}{'survived':>10}{'equiv.':>8}{'other':>7}"
          f"{'not tried':>11}")
    for package, c in rows.items():
        caught = c["killed"] + c["timeout"]
        counted = caught + c["survived"]
        pct = f"{100 * caught / counted:.1f}%" if counted else "-"
        table[package] = {"score": round(100 * caught / counted, 1) if counted else None, **c}
        print(f"{package:<20}{pct:>8}{c['killed']:>8}{c['timeout']:>9}{c['survived']:>10}"
              f"{c['equivalent']:>8}{c['other']:>7}{c['not tried']:>11}")
    print("score = (killed + timeout) / (killed + timeout + survived); equivalents (tests/mutation_equivalents.md) "
          "left out; 'other' (suspicious, segfault) and 'not tried' (the run was stopped) left out too")
    return survivors, odd, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=300, help="mutants to try, drawn with --seed (0: all)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--package", choices=PACKAGES,
                        help="draw the sample from this package's mutants only (to find survivors where a package "
                             "scores low; a score to report is of a sample of all three)")
    parser.add_argument("--per-package", type=int, metavar="N",
                        help="draw N mutants from each package instead of --sample from all (a stratified sample: "
                             "each package's score rests on N mutants)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tried at once")
    parser.add_argument("--report-only", action="store_true", help="score the last run's results, try nothing")
    parser.add_argument("--retry-survivors", action="store_true",
                        help="try again only the sample's mutants that survived (after adding tests: a killed "
                             "mutant stays killed when tests are only added)")
    parser.add_argument("--recheck", action="store_true",
                        help="apply each survivor of the last run to the source in turn and run the test selection "
                             "against it (after adding tests; the source is put back)")
    parser.add_argument("--exhaust", nargs="+", metavar="PREFIX",
                        help="try every mutant of these functions (a mutant's name without __mutmut_N) or modules "
                             "(ecs_rl.core.files), each against --tests plus the tests that reach it, in one "
                             "pytest session forking a child per mutant (to find all of a weak module's "
                             "survivors; needs an earlier run's stats); no score")
    parser.add_argument("--tests", nargs="+", default=[], metavar="FILE",
                        help="with --exhaust: test files run first against each mutant (new ones, say)")
    parser.add_argument("--write", metavar="PATH", help="also write the scores as JSON to PATH")
    args = parser.parse_args()

    start = time.monotonic()
    if args.exhaust:
        if not Path("mutants").exists():
            generate()
        exhaust(args.exhaust, args.tests)
        return 0
    if not args.report_only and not args.recheck:
        generate()
    names = sorted(n for n in results() if args.package is None or package_of(n) == args.package)
    if not names:
        print("mutation: no mutants found under mutants/ (run without --report-only first)", file=sys.stderr)
        return 2
    if args.per_package:
        sample = stratified(names, args.per_package, args.seed)
    else:
        sample = names if args.sample <= 0 or args.sample >= len(names) else sorted(
            random.Random(args.seed).sample(names, args.sample))
    print(f"mutation: {len(sample)} of {len(names)} mutants (seed {args.seed}"
          + (f", {args.package} only" if args.package else "")
          + (f", {args.per_package} from each package" if args.per_package else "") + ")", flush=True)
    if args.recheck:
        codes = results()
        survivors = [n for n in sample if codes.get(n) in SURVIVED and n not in equivalents()]
        print(f"mutation: rechecking the {len(survivors)} survivors", flush=True)
        recheck(survivors)
    elif not args.report_only:
        listing = Path("mutants/sample.txt")
        listing.write_text("\n".join(sample) + "\n", encoding="utf-8")
        todo = sample
        if args.retry_survivors:
            codes = results()
            todo = [n for n in sample if codes.get(n) in SURVIVED and n not in equivalents()]
            print(f"mutation: trying again the {len(todo)} mutants that survived", flush=True)
        with open("mutants/mutmut-run.log", "w", encoding="utf-8") as log:
            subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs), *todo],
                           check=False, stdout=log, stderr=subprocess.STDOUT)
    codes = results()
    print()
    print(f"mutation: sample of {len(sample)} of {len(names)} mutants, seed {args.seed}, "
          f"{time.monotonic() - start:.0f} s")
    survivors, odd, table = score(sample, codes, equivalents())
    if RECHECKED.exists():
        again = json.loads(RECHECKED.read_text())
        print(f"{sum(v == 'killed' for n, v in again.items() if n in sample)} of the killed were survivors of mutmut's "
              "run killed on recheck (mutmut apply + the test selection, after tests were added)")
    if args.write:
        Path(args.write).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"), "sample": len(sample), "mutants": len(names), "seed": args.seed,
            **({"package": args.package} if args.package else {}),
            **({"per_package": args.per_package} if args.per_package else {}),
            "mutants_by_package": dict(sorted(Counter(package_of(n) for n in names).items())),
            "scores": table, "survived": survivors}, indent=1) + "\n", encoding="utf-8")
    for title, group in (("survived", survivors), ("other status", odd)):
        if group:
            print(f"\n{title} ({len(group)}; see one with: mutmut show NAME):")
            for name in group:
                print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
