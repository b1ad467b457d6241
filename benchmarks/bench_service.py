"""Load on the HTTP service: requests per second and latency (p50, p99) at 20 concurrent
clients, then the same load while a server worker and a deliver worker are killed.

Loopback only and bounded: the service (``mediation-flow serve --workers 2``) listens on
127.0.0.1, the clients are threads of this process, each phase lasts ``--seconds``. Each client
repeats: open a case (with an idempotency key), fire three triggers, read the case. Phase 2
also runs two deliver workers posting every event to a webhook receiver on 127.0.0.1; halfway
through, one server worker process and one deliver worker are killed with SIGKILL (uvicorn
starts a new server worker; a new deliver worker is started). Requests that fail on the killed
worker's connections are counted as errors; afterwards the script checks that every committed
event reached the receiver.

    python benchmarks/bench_service.py                                   # SQLite file
    python benchmarks/bench_service.py --db postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

SECRET = "bench-secret-0123456789abcdef-0123456789"
INTAKE: dict[str, Any] = {
    "region": "430102",
    "parties": [
        {"kind": "worker", "role": "applicant", "name": "张三"},
        {"kind": "employer", "role": "respondent", "name": "长沙某建筑工程有限公司"},
    ],
    "claims": [{"kind": "wages", "amount": "18000.00"}],
    "knew_of_infringement_on": "2024-12-31",
    "employment_ended_on": "2024-12-31",
}
TRIGGERS = ("refer_to_negotiation", "accept_negotiation", "fail_negotiation")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LOGS: list[Path] = []


def mf(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """A ``mediation-flow`` process; its JSON log goes to a file shown if it does not stop."""
    log = Path(env["BENCH_TMP"]) / f"process-{len(LOGS)}.log"
    LOGS.append(log)
    return subprocess.Popen(
        [sys.executable, "-m", "mediation_flow", "--log-json", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        **kwargs,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        print(f"process {proc.args} did not stop on SIGTERM within 60 s", file=sys.stderr)


def server_workers(pid: int) -> list[int]:
    """The uvicorn worker processes of the server ``pid`` (Linux /proc; not the
    multiprocessing resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:
                found.append(int(child))
    return found


class Receiver:
    def __init__(self) -> None:
        self.seen: set[tuple[int, int]] = set()
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.seen.add((event["case_id"], event["seq"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def load(base: str, token: str, seconds: float, clients: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            i = 0
            while time.monotonic() < stop:
                i += 1
                requests: list[tuple[str, str, Any, dict[str, str]]] = [
                    ("POST", "/cases", INTAKE, {"Idempotency-Key": f"{n}-{i}-{time.time_ns()}"})
                ]
                case_id = None
                for step in range(5):
                    if step == 0:
                        method, path, body, extra = requests[0]
                    elif case_id is None:
                        break
                    elif step <= 3:
                        method, path = "POST", f"/cases/{case_id}/fire"
                        body, extra = {"trigger": TRIGGERS[step - 1]}, {}
                    else:
                        method, path, body, extra = "GET", f"/cases/{case_id}", None, {}
                    started = time.perf_counter()
                    try:
                        response = http.request(method, path, json=body, headers=extra)
                        ok = response.status_code < 300
                    except httpx.TransportError:
                        ok, response = False, None
                    mine.append(time.perf_counter() - started)
                    if not ok:
                        failed += 1
                        break
                    if step == 0 and response is not None:
                        case_id = response.json()["id"]
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="database URL [default: a SQLite file]")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    if not 1 <= args.seconds <= 300 or not 1 <= args.clients <= 100:
        parser.error("--seconds must be 1 to 300 and --clients 1 to 100 (a bounded run)")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mediation_flow import Actor, Engine, Role
    from mediation_flow.server import issue_token

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        Engine(url).close()  # the schema
        key = Path(tmp) / "k.key"
        key.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        env = {**os.environ, "MEDIATION_FLOW_DB": url, "MEDIATION_FLOW_TOKEN_SECRET": SECRET,
               "BENCH_TMP": tmp}  # fmt: skip
        port = free_port()
        server = mf("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                    env=env)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        token = issue_token(SECRET, Actor("bench", Role.intake_officer), ttl=3600)
        for _ in range(300):
            try:
                if httpx.get(f"{base}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        try:
            steady = load(base, token, args.seconds, args.clients)
            receiver = Receiver()
            with Engine(url) as engine:
                engine.outbox.subscribe("bench", receiver.url, from_start=True)
            deliver = [mf("--signing-key", str(key), "deliver", "--every", "0.1", "--lease", "3",
                          env=env) for _ in range(2)]  # fmt: skip

            killed_pids: list[int] = []

            def kill_halfway() -> None:
                time.sleep(args.seconds / 2)
                workers = server_workers(server.pid)
                if workers:
                    os.kill(workers[0], signal.SIGKILL)
                    killed_pids.append(workers[0])
                deliver[0].send_signal(signal.SIGKILL)
                deliver.append(mf("--signing-key", str(key), "deliver", "--every", "0.1",
                                  env=env))  # fmt: skip

            killer = threading.Thread(target=kill_halfway)
            killer.start()
            killed = load(base, token, args.seconds, args.clients)
            killer.join()
            with Engine(url) as engine:
                committed = {
                    (e.case_id, e.seq)
                    for c in engine.cases(limit=10**6)
                    for e in engine.history(c.id)
                }
            waited = time.monotonic()
            while not committed <= receiver.seen and time.monotonic() - waited < 120:
                time.sleep(0.5)
            killed["server_worker_killed"] = bool(killed_pids)
            killed["server_workers_after"] = len(server_workers(server.pid))
            killed["events_committed"] = len(committed)
            killed["events_delivered"] = len(committed & receiver.seen)
            killed["delivery_catch_up_s"] = round(time.monotonic() - waited, 1)
        finally:
            stop(server)
            for proc in deliver if "deliver" in locals() else ():
                stop(proc)
        store = url.split(":", 1)[0]
        print(json.dumps({"db": store, "clients": args.clients, "seconds": args.seconds,
                          "steady": steady, "worker_killed": killed}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
