"""A pytest plugin that tries many mutants in one test session (scripts/mutation.py --exhaust loads it).

mutmut's own run starts a fresh pytest for each mutant, which here costs seconds of collecting and importing
(torch) before the first test runs. This plugin collects the test selection once, in mutmut's working copy
(``mutants/``, whose functions pick their mutant by the ``MUTANT_UNDER_TEST`` environment variable at each
call), then forks a child per mutant: the child sets the variable and runs the tests mutmut's stats say reach
the mutant's function, fastest first, stopping at the first failure. The parent never runs a test, so each
child starts from the same freshly collected state (no test's side effects leak into the next mutant).

Environment: ``MUTATION_FORK_LIST`` (a file of mutant names, one per line), ``MUTATION_FORK_OUT`` (a JSON file
of verdicts: ``killed``, ``survived``, ``timeout``, ``no tests``; mutants already in it are skipped, so a
stopped run resumes), ``MUTATION_FORK_STATS`` (mutmut's stats, default ``mutmut-stats.json``),
``MUTATION_FORK_FIRST`` (test files, comma-separated, run first against every mutant: new tests the stats do
not know), ``MUTATION_FORK_JOBS`` (children at once, default 2), ``MUTATION_FORK_TIMEOUT`` (a child is
killed after this many times its tests' recorded duration, default 4, and at least
``MUTATION_FORK_MIN_TIMEOUT`` seconds, default 20): a hang counts as ``timeout``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest


def _run_child(items: list, name: str) -> None:
    """In the forked child: run ``items`` against mutant ``name``; exit 1 at the first failure, else 0."""
    from _pytest.runner import runtestprotocol

    os.environ["MUTANT_UNDER_TEST"] = name
    for item in items:
        if any(report.failed for report in runtestprotocol(item, log=False, nextitem=None)):
            os._exit(1)
    os._exit(0)


def _tests_for(name: str, by_function: dict, first: list, items: dict, duration: dict) -> list[str]:
    function = name.rsplit("__mutmut_", 1)[0]
    reached = sorted((t for t in by_function.get(function, []) if t in items and t not in first),
                     key=lambda t: duration.get(t, 1.0))
    return [*first, *reached]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool:
    names = [n.strip() for n in Path(os.environ["MUTATION_FORK_LIST"]).read_text(encoding="utf-8").splitlines()
             if n.strip()]
    out = Path(os.environ["MUTATION_FORK_OUT"])
    verdicts = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    stats = json.loads(Path(os.environ.get("MUTATION_FORK_STATS", "mutmut-stats.json")).read_text(encoding="utf-8"))
    by_function, duration = stats["tests_by_mangled_function_name"], stats["duration_by_test"]
    items = {item.nodeid: item for item in session.items}
    first_files = [f for f in os.environ.get("MUTATION_FORK_FIRST", "").split(",") if f]
    first = [i for i in items if i.split("::")[0] in first_files]
    jobs = int(os.environ.get("MUTATION_FORK_JOBS", "2"))
    factor = float(os.environ.get("MUTATION_FORK_TIMEOUT", "4"))
    floor = float(os.environ.get("MUTATION_FORK_MIN_TIMEOUT", "20"))
    todo = [n for n in dict.fromkeys(names) if n not in verdicts]
    running: dict[int, tuple[str, float, float]] = {}  # pid -> (mutant, deadline, start)
    began = time.monotonic()

    def record(name: str, verdict: str, took: float) -> None:
        verdicts[name] = verdict
        out.write_text(json.dumps(verdicts, indent=0, ensure_ascii=False), encoding="utf-8")
        print(f"[{len(verdicts)}/{len(names)} {time.monotonic() - began:.0f}s] {verdict} ({took:.1f}s) {name}",
              flush=True)

    while todo or running:
        while todo and len(running) < jobs:
            name = todo.pop(0)
            tests = _tests_for(name, by_function, first, items, duration)
            if not tests:
                record(name, "no tests", 0.0)
                continue
            budget = max(floor, factor * sum(duration.get(t, 1.0) for t in tests))
            pid = os.fork()
            if pid == 0:
                try:
                    _run_child([items[t] for t in tests], name)
                finally:
                    os._exit(3)
            running[pid] = (name, time.monotonic() + budget, time.monotonic())
        if not running:
            continue
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (name, deadline, start) in list(running.items()):
                if now > deadline:
                    os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
                    del running[child]
                    record(name, "timeout", now - start)
            time.sleep(0.02)
            continue
        name, _, start = running.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        record(name, {0: "survived", 1: "killed"}.get(code, f"crashed ({code})"), time.monotonic() - start)
    return True
