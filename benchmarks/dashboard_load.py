"""Does watching a run slow it down? Training speed with and without the dashboard page open, side by side.

    python benchmarks/dashboard_load.py                 # ~4-7 min: 3 rounds of 30 000 CartPole steps per arm
    python benchmarks/dashboard_load.py --rounds 1 --steps 10000      # a quick look
    python benchmarks/dashboard_load.py --write     # and write benchmarks/results/dashboard-load.json

One ``ecs-rl dashboard`` server runs throughout. Each round trains ``ecs-rl train cartpole`` twice, in
alternating order: once with no page open, once with the page open in headless chromium (it follows the run
as soon as it is listed, polling its logs every 2 s). Reported per arm: training steps/s (the run's own
report), steps per CPU-second of the training process (less sensitive to other work on a shared machine),
and the CPU seconds the server and the browser used while the run trained.

Then the cost of one poll against log length: the server answers ``after=N`` from a byte offset it
remembered, so a client that is up to date costs the same on a 1 000-line log as on a 200 000-line one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import add_write_option, check_folder, load_average, meta, write

ECS_RL = Path(sys.executable).with_name("ecs-rl")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def session_pids(sid: int) -> list[int]:
    """Every process of the session ``sid`` (chromium and its renderer, GPU and utility processes)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def train(root: Path, name: str, steps: int) -> tuple[float, float]:
    """Train a CartPole run: its steps/s (its own report) and its steps per CPU-second (start-up included)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([ECS_RL, "train", "cartpole", "--steps", str(steps), "--full", "--eval-freq",
                                 str(steps // 2), "--root", str(root), "--name", name], stdout=out,
                                stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(text)
    speed = float(re.search(r"steps/sec\s+([\d,]+)", text).group(1).replace(",", ""))
    return speed, steps / (usage.ru_utime + usage.ru_stime)


def poll_cost(port: int, root: Path, server_pid: int) -> list[tuple[int, float, float]]:
    """Milliseconds (wall, and server CPU) per ``after=N`` request of an up-to-date client, for logs of growing
    length."""
    line = json.dumps({"episode": 0, "step": 0, "total_reward": 1.0, "length": 20, "status": "terminated",
                       "extras": {"epsilon": 0.05, "loss_last": 0.1}}) + "\n"
    found = []
    for n in (1_000, 200_000):
        run = root / "synthetic" / f"n{n}" / "20000101_000000"
        run.mkdir(parents=True)
        (run / "metadata.json").write_text(json.dumps({"name": "synthetic", "version": f"n{n}",
                                                       "run_id": run.name, "total_steps": n,
                                                       "total_episodes": n}))
        (run / "train_episodes.jsonl").write_text(line * n)
        run_id = f"synthetic/n{n}/{run.name}"
        conn = http.client.HTTPConnection("127.0.0.1", port)
        after = 0
        while True:  # read it all once, as the page does on opening
            conn.request("GET", f"/api/runs/{run_id}/episodes?after={after}")
            body = json.loads(conn.getresponse().read())
            after = body["next"]
            if not body["more"]:
                break
        assert after == n, (after, n)
        started, cpu, repeats = time.perf_counter(), cpu_seconds([server_pid]), 1000
        for _ in range(repeats):
            conn.request("GET", f"/api/runs/{run_id}/episodes?after={after}")
            assert json.loads(conn.getresponse().read())["rows"] == []
        found.append((n, (time.perf_counter() - started) / repeats * 1000,
                      (cpu_seconds([server_pid]) - cpu) / repeats * 1000))
        conn.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30_000)
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        server = subprocess.Popen([ECS_RL, "dashboard", "--root", str(root), "--port", "0"],
                                  stdout=subprocess.PIPE, text=True)
        port = int(re.search(r":(\d+)/", server.stdout.readline()).group(1))
        rows = {"no page": [], "page open": []}
        try:
            for r in range(args.rounds):
                for arm in (("no page", "page open") if r % 2 == 0 else ("page open", "no page")):
                    browser = None
                    if arm == "page open":
                        browser = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile{r}",
                                                    "--remote-debugging-port=0", f"http://127.0.0.1:{port}/"],
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                   start_new_session=True)
                    time.sleep(3)  # the browser is up and the page loaded before training starts (both arms wait)
                    server_cpu = cpu_seconds([server.pid])
                    browser_cpu = cpu_seconds(session_pids(browser.pid)) if browser else 0.0
                    wall = time.perf_counter()
                    speed, per_cpu = train(root, f"{arm.replace(' ', '-')}-{r}", args.steps)
                    wall = time.perf_counter() - wall
                    server_cpu = cpu_seconds([server.pid]) - server_cpu
                    if browser:
                        browser_cpu = cpu_seconds(session_pids(browser.pid)) - browser_cpu
                        os.killpg(browser.pid, signal.SIGTERM)
                        browser.wait()
                    rows[arm].append((speed, server_cpu, browser_cpu, wall, per_cpu))
                    print(f"round {r} {arm:9s}: {speed:7,.0f} steps/s ({per_cpu:5,.0f} per CPU-s)   server CPU "
                          f"{server_cpu:5.2f} s   browser CPU {browser_cpu:5.2f} s   over {wall:5.1f} s of training",
                          flush=True)
            costs = poll_cost(port, root, server.pid)
        finally:
            server.terminate()
            server.wait()
    base = statistics.median(r[0] for r in rows["no page"])
    page = statistics.median(r[0] for r in rows["page open"])
    base_cpu = statistics.median(r[4] for r in rows["no page"])
    page_cpu = statistics.median(r[4] for r in rows["page open"])
    wall = sum(r[3] for r in rows["page open"])
    print(f"\nmedian steps/s: no page {base:,.0f}, page open {page:,.0f} (ratio {page / base:.3f})")
    print(f"median steps per CPU-second of training: no page {base_cpu:,.0f}, page open {page_cpu:,.0f} "
          f"(ratio {page_cpu / base_cpu:.3f})")
    print(f"server CPU with the page open: {sum(r[1] for r in rows['page open']) / wall:.1%} of one core; "
          f"browser: {sum(r[2] for r in rows['page open']) / wall:.1%}")
    for n, ms, cpu in costs:
        print(f"one poll of an up-to-date client, {n:,}-line log: {ms:.2f} ms, server CPU {cpu:.2f} ms")
    fields = ("steps_per_sec", "server_cpu_seconds", "browser_cpu_seconds", "wall_seconds", "steps_per_cpu_sec")
    write("dashboard-load", {"meta": meta(load, quick=args.rounds < 3 or args.steps < 30_000), "rounds": args.rounds,
                             "steps": args.steps,
                             "arms": {arm: [dict(zip(fields, row)) for row in rs] for arm, rs in rows.items()},
                             "poll": [{"lines": n, "wall_ms": ms, "server_cpu_ms": cpu} for n, ms, cpu in costs]},
          args.write)


if __name__ == "__main__":
    main()
