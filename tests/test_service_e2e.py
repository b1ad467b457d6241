"""End to end: two service instances on one PostgreSQL under load from concurrent clients,
two deliver workers posting to a webhook receiver on 127.0.0.1 that sometimes fails, and one
worker killed with SIGKILL in the middle. Every committed event reaches the receiver at least
once, each case's events in order, none lost."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from cryptography.hazmat.primitives import serialization  # noqa: E402

from mediation_flow import Actor, Engine, Role  # noqa: E402
from mediation_flow.outbox import verify_webhook  # noqa: E402
from mediation_flow.server import HmacTokenAuthenticator, create_app, issue_token  # noqa: E402
from tests.conftest import at, make_intake  # noqa: E402

SECRET = "e2e-test-secret-0123456789abcdef-0123"
TOKEN = issue_token(SECRET, Actor("officer-1", Role.intake_officer), ttl=3600)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Receiver:
    """A webhook receiver: verifies each post; every 7th post is answered 503."""

    def __init__(self, public_key: Any) -> None:
        self.received: list[dict[str, Any]] = []
        self.posts = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    outer.posts += 1
                    fail = outer.posts % 7 == 0
                    if not fail:
                        event = verify_webhook(body, dict(self.headers), public_key)
                        outer.received.append(event)
                self.send_response(503 if fail else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start_service(url: str) -> tuple[Any, str, Engine]:
    # A fixed clock: the deadlines fall in years the installed calendar covers.
    engine = Engine(url, clock=lambda: at(2025, 6, 3, 10))
    app = create_app(engine, authenticator=HmacTokenAuthenticator(SECRET))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return server, base, engine


def deliver_worker(url: str, key: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mediation_flow", "--db", url, "--signing-key", str(key),
         "deliver", "--every", "0.05", "--lease", "3", "--batch", "20"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def client_load(base: str, n: int, failures: list[str]) -> None:
    with httpx.Client(base_url=base, headers=HEADERS, timeout=30) as client:
        for i in range(n):
            opened = client.post(
                "/cases",
                json=make_intake(),
                headers={"Idempotency-Key": f"{base}-{i}-{threading.get_ident()}"},
            )
            if opened.status_code != 201:
                failures.append(opened.text)
                continue
            case_id = opened.json()["id"]
            for trigger in ("refer_to_negotiation", "accept_negotiation", "fail_negotiation"):
                fired = client.post(f"/cases/{case_id}/fire", json={"trigger": trigger})
                if fired.status_code != 200:
                    failures.append(fired.text)


@pytest.mark.postgres
def test_every_event_is_delivered_in_order_despite_a_killed_worker(
    pg_url: str, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "hr.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    receiver = Receiver(key.public_key())
    one, base_one, engine_one = start_service(pg_url)
    two, base_two, engine_two = start_service(pg_url)
    engine_one.outbox.subscribe("receiver", receiver.url, from_start=True)
    workers = [deliver_worker(pg_url, key_file, tmp_path) for _ in range(2)]
    failures: list[str] = []
    clients = [
        threading.Thread(target=client_load, args=(base, 8, failures))
        for base in (base_one, base_two, base_one, base_two)
    ]
    try:
        for t in clients:
            t.start()
        time.sleep(2)
        workers[0].send_signal(signal.SIGKILL)  # killed mid-delivery
        workers[0].wait(timeout=10)
        workers.append(deliver_worker(pg_url, key_file, tmp_path))
        for t in clients:
            t.join(timeout=120)
        assert not failures, failures[:3]
        committed = {
            (e.case_id, e.seq)
            for c in engine_one.cases(limit=1000)
            for e in engine_one.history(c.id)
        }
        assert len(committed) >= 32 * 4
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = {(e["case_id"], e["seq"]) for e in list(receiver.received)}
            if committed <= got:
                break
            time.sleep(0.2)
        missing = committed - {(e["case_id"], e["seq"]) for e in receiver.received}
        assert not missing, sorted(missing)[:10]
        per_case: dict[int, list[int]] = defaultdict(list)
        for event in receiver.received:
            seqs = per_case[event["case_id"]]
            if event["seq"] not in seqs:  # at least once: duplicates are dropped by feed id
                seqs.append(event["seq"])
        for case_id, seqs in per_case.items():
            assert seqs == sorted(seqs), (case_id, seqs)
        assert engine_one.outbox.dead_letters() == []
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        one.should_exit = two.should_exit = True
        receiver.server.shutdown()
        time.sleep(0.5)
        engine_one.close()
        engine_two.close()
    print(json.dumps({"posts": receiver.posts, "events": len(committed)}))
