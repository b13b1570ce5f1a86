"""ecs-rl dashboard: the real server (uvicorn on a free port) over a run that a real training process is writing,
and the page in a real headless browser (Debian's chromium)."""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from ecs_rl.cli import main  # noqa: E402
from ecs_rl.core.files import read_jsonl  # noqa: E402
from ecs_rl.core.run import TrainingRun  # noqa: E402
from ecs_rl.dashboard import listen, server  # noqa: E402

ECS_RL = Path(sys.executable).with_name("ecs-rl")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str, host: str = "127.0.0.1") -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest("GET", path, skip_host=True)  # the path exactly as given: no client-side cleaning
            conn.putheader("Host", f"{host}:{self.port}")
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, body.decode(errors="replace")

    def lines(self, run_id: str, after: int, log: str = "episodes") -> dict:
        status, body = self.get(f"/api/runs/{run_id}/{log}?after={after}")
        assert status == 200, body
        return body


def wait_for(what, timeout: float = 90.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A training process writing a CartPole run under ``root`` and the dashboard serving ``root``."""
    root = tmp_path_factory.mktemp("dash") / "runs"
    root.mkdir()
    out = open(root.parent / "train.out", "w+")
    train = subprocess.Popen([ECS_RL, "train", "cartpole", "--steps", "6000", "--eval-freq", "2000", "--full",
                              "--root", str(root)], stdout=out, stderr=subprocess.STDOUT)
    sock = listen("127.0.0.1", 0)
    srv = server(root, sock)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, timeout=30)
    try:
        yield root, Client(sock.getsockname()[1]), train
    finally:
        if train.poll() is None:
            train.kill()
        train.wait()
        out.close()
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_the_api_follows_a_run_being_trained(live):
    root, client, train = live
    runs = wait_for(lambda: client.get("/api/runs")[1]["runs"])
    assert len(runs) == 1 and runs[0]["name"] == "cartpole" and runs[0]["algo"] == "dqn"
    assert runs[0]["training"] is True
    run_id = runs[0]["id"]
    log = root / run_id / "train_episodes.jsonl"

    first = wait_for(lambda: (b := client.lines(run_id, 0))["next"] > 0 and b)
    n = first["next"]
    assert [r["episode"] for r in first["rows"]] == list(range(1, n + 1))
    newer = wait_for(lambda: (b := client.lines(run_id, n))["rows"] and b)  # only what came after line n
    assert train.poll() is None or newer["next"] > n
    assert newer["rows"][0]["episode"] == n + 1
    assert newer["next"] == n + len(newer["rows"])
    assert newer["rows"] == read_jsonl(log)[n:newer["next"]]

    assert train.wait(timeout=180) == 0, (root.parent / "train.out").read_text()[-2000:]
    wait_for(lambda: client.get("/api/runs")[1]["runs"][0]["training"] is False, timeout=10)  # its pid is gone
    seen, after = newer["next"], newer["next"]
    while True:
        more = client.lines(run_id, after)
        if not more["rows"]:
            break
        seen, after = seen + len(more["rows"]), more["next"]
    meta = json.loads((root / run_id / "metadata.json").read_text())
    assert seen == meta["total_episodes"] == len(read_jsonl(log)) > n
    evals = client.lines(run_id, 0, "evals")
    assert evals["rows"] == read_jsonl(root / run_id / "eval_episodes.jsonl") and evals["rows"]


def test_partial_lines_cut_logs_deleted_runs_and_traversal(live):
    root, client, _ = live
    run = TrainingRun.create("partial", "v1", root=root)
    run_id = f"partial/v1/{run.run_id}"
    line = {"episode": 1, "step": 10, "total_reward": 1.0, "length": 10, "status": "terminated", "extras": {}}
    with open(run.train_log_path, "wb") as fh:
        fh.write(json.dumps(line).encode() + b"\n" + b'{"episode": 2, "st')  # a line being written
    body = client.lines(run_id, 0)
    assert (len(body["rows"]), body["next"]) == (1, 1)
    with open(run.train_log_path, "ab") as fh:
        fh.write(b'ep": 20, "total_reward": 2.0, "length": 10, "status": "terminated", "extras": {}}\n')
    body = client.lines(run_id, 1)
    assert [r["episode"] for r in body["rows"]] == [2] and body["next"] == 2 and not body["reset"]

    # a resume cut the log back to one line and training wrote another second line: the client starts again
    with open(run.train_log_path, "rb+") as fh:
        fh.truncate(len(json.dumps(line)) + 1)
    with open(run.train_log_path, "ab") as fh:
        fh.write(json.dumps({**line, "episode": 2, "step": 15, "total_reward": 7.0}).encode() + b"\n")
    assert client.lines(run_id, 2)["reset"] is True
    assert [r["total_reward"] for r in client.lines(run_id, 0)["rows"]] == [1.0, 7.0]

    for path in (f"/api/runs/../../../etc/episodes", "/api/runs/%2e%2e/%2e%2e/%2e%2e/etc/episodes",
                 f"/api/runs/{run_id}/../../../../etc/passwd", f"/api/runs/{run_id}/metadata.json",
                 "/static/../app.py", "/static/..%2fapp.py", "/static/app.py", "/static/%2e%2e%2f__init__.py"):
        status, body = client.get(path)
        assert status == 404, (path, status, body)
        assert "root:" not in str(body) and "import" not in str(body)
    assert client.get("/api/runs", host="attacker.example")[0] == 400  # a page rebinding its name to us
    assert client.get("/static/uPlot.iife.min.js")[0] == 200

    shutil.rmtree(run.path)  # deleted while shown
    time.sleep(1.1)  # the listing is cached for a second
    status, body = client.get(f"/api/runs/{run_id}/episodes?after=2")
    assert status == 404 and "no run" in body["error"]


def test_nan_infinity_and_non_numeric_values_written_elsewhere_go_out_as_json(live):
    """Python's json writes NaN and Infinity by default (a log or metadata written by another tool); the
    browser's JSON.parse refuses them, so the API sends null, and keeps other values as they are."""
    root, client, _ = live
    run = TrainingRun.create("elsewhere", "v1", root=root)
    run.update_metadata(20, 2)
    meta = json.loads((run.path / "metadata.json").read_text())
    (run.path / "metadata.json").write_text(json.dumps({**meta, "best_eval_reward": float("nan")}))
    rows = [{"episode": 1, "step": 10, "total_reward": float("nan"), "length": 10, "status": "terminated",
             "extras": {"loss": float("inf"), "name": "abc", "flag": True, "vec": [1.5, float("-inf")]}},
            {"episode": 2, "step": 20, "total_reward": 2.0, "length": 10, "status": "terminated",
             "extras": {"loss": 0.5, "name": "abc", "flag": False, "vec": [2.5, 3.0]}}]
    run.train_log_path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # NaN, Infinity as Python writes
    run_id = f"elsewhere/v1/{run.run_id}"
    body = client.lines(run_id, 0)
    assert body["next"] == 2
    assert body["rows"][0]["total_reward"] is None and body["rows"][0]["extras"] == {
        "loss": None, "name": "abc", "flag": True, "vec": [1.5, None]}
    assert body["rows"][1] == rows[1]
    status, listing = client.get("/api/runs")
    assert status == 200, listing
    assert [r["best_eval"] for r in listing["runs"] if r["id"] == run_id] == [None]
    run.release_lock()


@pytest.mark.parametrize("host", ["127.0.0.2", "::1"])
def test_a_server_on_another_loopback_address_answers_requests_naming_it(tmp_path, host):
    try:
        sock = listen(host, 0)
    except OSError as exc:
        pytest.skip(f"this machine cannot listen on {host}: {exc}")
    srv = server(tmp_path, sock, host)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: srv.started, timeout=30)
        port = sock.getsockname()[1]
        name = f"[{host}]" if ":" in host else host
        for header, expected in ((f"{name}:{port}", 200), (f"localhost:{port}", 200), (f"evil.example:{port}", 400)):
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.putrequest("GET", "/api/runs", skip_host=True)
            conn.putheader("Host", header)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            conn.close()
            assert response.status == expected, (header, response.status)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            pytest.skip(f"{CHROMIUM} is missing and '{' '.join(cmd)}' failed: {done.stderr.strip()[-200:]}")
    return CHROMIUM


def test_the_page_draws_the_run_in_a_real_browser(live, tmp_path):
    root, client, train = live
    browser = _chromium()
    assert train.wait(timeout=180) == 0
    run_id = client.get("/api/runs")[1]["runs"][0]["id"]
    rows = read_jsonl(root / run_id / "train_episodes.jsonl")
    url = f"http://127.0.0.1:{client.port}/?inked#runs={run_id.replace('/', '%2F')}"
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}", "--virtual-time-budget=8000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    charts = {}
    for tag in re.findall(r'<div class="chart"([^>]*)>', dom):
        attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', tag))
        charts[attrs["key"]] = (int(attrs["points"]), int(attrs.get("inked", 0)))
    assert {"reward", "length", "eval", "extra:epsilon"} <= set(charts), dom[-2000:]
    steps = len({r["step"] for r in rows})  # one point per step (episodes ending on one tick are averaged)
    assert charts["length"][0] == steps and charts["reward"][0] == 2 * steps  # raw and smoothed
    for key in ("reward", "length", "extra:epsilon"):
        assert charts[key][1] > 100, (key, charts[key])  # pixels in the run's colour: the lines were drawn


def test_dashboard_cli_refuses_a_missing_root_and_warns_on_all_interfaces(tmp_path, capsys):
    assert main(["dashboard", "--root", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--root" in err and "nope" in err

    proc = subprocess.Popen([ECS_RL, "dashboard", "--root", str(tmp_path), "--host", "0.0.0.0", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        warning = proc.stderr.readline()
        address = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert "warning" in warning and "0.0.0.0" in warning
    assert re.search(r"http://0\.0\.0\.0:\d+/", address)
