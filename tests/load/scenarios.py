"""make load: what load and faults the service holds, measured on real server processes.

Not part of `make test`. Each scenario prints one JSON line of figures; docs/reliability.md has the
figures of a run with the command and the machine. The servers are `mastering-trainer serve`
processes with the shipped models, on a scratch PostgreSQL database next to
DATABASE_URL_POSTGRES (dropped at the end), each under a small supervisor that restarts it when
it dies.

    DATABASE_URL_POSTGRES=postgresql+psycopg://trainer:trainer@127.0.0.1:5432/trainer_test \
        .venv/bin/python -m tests.load.scenarios [--sustained-s 300] [--only read,overload]

Scenarios: read (history and class dashboard, 20 clients), capacity (ratings/s one server
completes), sustained (half capacity), overload (twice capacity: 503 + Retry-After, /healthz p99
timed from a process of its own, recovery), kill (kill -9 of one worker of `serve --workers 2`
during sustained load; uvicorn restarts it while the other answers),
dblock (a 10 s ACCESS EXCLUSIVE lock on the ratings table during sustained load), hostile
(10 % bombs, absurd headers, huge and slow bodies among legitimate ratings).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKERS = 2  # MAX_CONCURRENT_ANALYSES of the server under test
QUEUE = 4  # MAX_QUEUED_ANALYSES


def wav(samples: np.ndarray, sample_rate_hz: int = 44_100) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate_hz, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def multipart(files: dict[str, bytes], boundary: str = "loadboundary") -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.wav"'
        f"\r\nContent-Type: audio/wav\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files.items()
    ]
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def legit_body() -> tuple[bytes, str]:
    """A 30 s stereo pair at 44.1 kHz: a song excerpt's size (about 5 MB each)."""
    rng = np.random.default_rng(1)
    reference = (rng.standard_normal((30 * 44_100, 2)) * 0.1).astype(np.float32)
    candidate = reference * 0.7 + np.roll(reference, 1, axis=0) * 0.3
    return multipart({"reference": wav(reference), "candidate": wav(candidate)})


@dataclass
class Answer:
    status: int
    seconds: float
    rating_id: int | None = None
    retry_after: str | None = None
    #: When the request started (time.monotonic()).
    started_at: float = field(default_factory=time.monotonic)


def request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    if method == "POST" and body is not None:
        return post(url, body=body, headers=headers or {})
    started = time.perf_counter()
    started_at = time.monotonic()
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            payload = response.read()
            rating_id = None
            if method == "POST" and payload.startswith(b"{"):
                rating_id = json.loads(payload).get("id")
            return Answer(response.status, time.perf_counter() - started, rating_id,
                          started_at=started_at)  # fmt: skip
    except urllib.error.HTTPError as error:
        error.read()
        return Answer(error.code, time.perf_counter() - started, None,
                      error.headers["Retry-After"], started_at)  # fmt: skip
    except (OSError, http.client.HTTPException):
        return Answer(0, time.perf_counter() - started, started_at=started_at)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST, reading the answer even when the server sends it before it has read the body.

    The service refuses a full pool (503) before reading the upload and closes the connection;
    a client that insists on sending the whole body first sees a reset instead of the 503."""
    started = time.perf_counter()
    started_at = time.monotonic()
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    connection = http.client.HTTPConnection(host_port, timeout=120)
    try:
        connection.putrequest("POST", "/" + url.split("//", 1)[1].split("/", 1)[1])
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(key, value)
        connection.endheaders()
        try:
            for offset in range(0, len(body), 65536):
                connection.send(body[offset : offset + 65536])
        except OSError:
            pass  # the server answered early and closed; read what it said
        response = connection.getresponse()
        payload = response.read()
        rating_id = json.loads(payload).get("id") if response.status == 200 else None
        return Answer(response.status, time.perf_counter() - started, rating_id,
                      response.headers["Retry-After"], started_at)  # fmt: skip
    except (OSError, http.client.HTTPException):
        return Answer(0, time.perf_counter() - started, started_at=started_at)
    finally:
        connection.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def latency(answers: list[Answer]) -> dict[str, float]:
    seconds = [a.seconds for a in answers if a.status == 200]
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
    }


class Supervised:
    """One server process, restarted whenever it exits (as systemd or Docker's restart would).

    With ``workers`` > 1 it is `serve --workers N`: uvicorn's parent process restarts a worker
    that dies, and the other workers go on answering on the same port meanwhile."""

    def __init__(self, *, env: dict[str, str], port: int, log: Path, workers: int = 1) -> None:
        self.env, self.port, self.log, self.workers = env, port, log, workers
        self.url = f"http://127.0.0.1:{port}"
        self.restarts = 0
        self._stop = threading.Event()
        self.process = self._start()
        self._watch = threading.Thread(target=self._supervise, daemon=True)
        self._watch.start()

    def _start(self) -> subprocess.Popen[bytes]:
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        command = [
            str(BIN / "mastering-trainer"),
            "serve",
            "--no-migrate",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        with self.log.open("ab") as log:
            return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            if self.process.poll() is not None and not self._stop.is_set():
                self.restarts += 1
                self.process = self._start()
            time.sleep(0.2)

    def startups(self) -> int:
        """How many processes have finished starting up (uvicorn's log line) since `_start`."""
        with self.log.open("rb") as log:
            log.seek(self._log_start)
            return log.read().count(b"Application startup complete")

    def worker_pids(self) -> list[int]:
        """The pids of uvicorn's worker processes (none with one worker: it serves itself)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        workers = []
        for child in map(int, children):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in command:  # multiprocessing's spawned workers, not its tracker
                workers.append(child)
        return workers

    def wait_ready(self, timeout_s: float = 180) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            serving = self.startups() >= self.workers  # every worker, not just the first
            if serving and request(f"{self.url}/readyz").status == 200:
                return time.monotonic() - started
            time.sleep(0.2)
        raise SystemExit(f"{self.url} not ready after {timeout_s} s")

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Run:
    server: Supervised
    engine: Engine
    token: str
    instructor_token: str
    class_id: int
    body: tuple[bytes, str]
    stored_ids: set[int] = field(default_factory=set)

    def rate(self) -> Answer:
        data, content_type = self.body
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {self.token}"}
        answer = request(f"{self.server.url}/rate", method="POST", body=data, headers=headers)
        if answer.status == 200 and answer.rating_id is not None:
            self.stored_ids.add(answer.rating_id)
        return answer

    def rows(self) -> set[int]:
        with self.engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT id FROM ratings"))}


def open_loop(
    run: Run, *, rate_per_s: float, duration_s: float, make: Callable[[], Answer] | None = None
) -> list[Answer]:
    """Start requests at a fixed rate (not waiting for answers), as independent clients do."""
    make = make or run.rate
    answers: list[Answer] = []
    with ThreadPoolExecutor(64) as threads:
        futures = []
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < duration_s:
            futures.append(threads.submit(make))
            n += 1
            time.sleep(max(0.0, started + n / rate_per_s - time.monotonic()))
        answers = [f.result() for f in futures]
    return answers


def statuses(answers: list[Answer]) -> dict[str, int]:
    return dict(Counter(str(a.status) for a in answers))


def scenario_read(run: Run) -> dict[str, Any]:
    for _ in range(20 - len(run.stored_ids)):
        run.rate()
    urls = [
        (f"{run.server.url}/api/ratings", run.token),
        (f"{run.server.url}/api/classes/{run.class_id}/progress", run.instructor_token),
    ]
    figures: dict[str, Any] = {"scenario": "read", "clients": 20}
    for url, token in urls:
        headers = {"Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        with ThreadPoolExecutor(20) as threads:
            answers = list(
                threads.map(lambda _, u=url, h=headers: request(u, headers=h), range(400))
            )
        seconds = time.perf_counter() - started
        name = "history" if url.endswith("ratings") else "class_dashboard"
        figures[name] = {
            "requests": len(answers),
            "statuses": statuses(answers),
            **latency(answers),
            "per_s": round(len(answers) / seconds, 1),
        }
    return figures


def cpu_s(pid: int, *, thread: int | None = None) -> float:
    """User + system CPU seconds of a process (or of one of its threads) so far."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, key: str) -> int:
    """VmRSS or VmHWM (peak) of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def scenario_capacity(run: Run) -> dict[str, Any]:
    """Closed loop with exactly WORKERS clients: completed ratings per second, and their cost."""
    pid = run.server.process.pid
    cpu_before, rss_before = cpu_s(pid), memory_kib(pid, "VmRSS")
    rows_before = len(run.rows())
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as threads:
        answers = list(threads.map(lambda _: run.rate(), range(6 * WORKERS)))
    seconds = time.perf_counter() - started
    ok = sum(a.status == 200 for a in answers)
    with run.engine.connect() as connection:
        table_bytes = connection.execute(text("SELECT pg_total_relation_size('ratings')")).scalar()
        rows = connection.execute(text("SELECT count(*) FROM ratings")).scalar() or 1
    return {
        "scenario": "capacity",
        "workers": WORKERS,
        "statuses": statuses(answers),
        "ratings_per_s": round(ok / seconds, 3),
        **latency(answers),
        "pair_audio_s": 30,
        "cpu_s_per_rating": round((cpu_s(pid) - cpu_before) / max(ok, 1), 2),
        "rss_idle_mib": round(rss_before / 1024),
        "rss_peak_mib": round(memory_kib(pid, "VmHWM") / 1024),
        "db_bytes_per_rating": int((table_bytes or 0) / rows),
        "rows_added": rows - rows_before,
    }


def checked_load(
    run: Run, *, rate_per_s: float, duration_s: float, out: list[Answer] | None = None
) -> dict[str, Any]:
    before = run.rows()
    run.stored_ids.clear()
    answers = open_loop(run, rate_per_s=rate_per_s, duration_s=duration_s)
    if out is not None:
        out.extend(answers)
    time.sleep(1)
    new_rows = run.rows() - before
    return {
        "offered_per_s": round(rate_per_s, 3),
        "seconds": duration_s,
        "requests": len(answers),
        "statuses": statuses(answers),
        **latency(answers),
        "ok": sum(a.status == 200 for a in answers),
        "stored": len(new_rows),
        "lost": len(run.stored_ids - new_rows),
    }


def scenario_sustained(run: Run, *, capacity: float, duration_s: float) -> dict[str, Any]:
    figures = checked_load(run, rate_per_s=capacity / 2, duration_s=duration_s)
    return {"scenario": "sustained", **figures}


def probe(url: str, *, duration_s: float) -> subprocess.Popen[bytes]:
    """Time GETs of `url` from a process of its own, where the load generator's threads (the
    GIL they share) add nothing to the latency; `probed` reads the figures."""
    command = [sys.executable, "-m", "tests.load.probe", url, str(duration_s), str(PROBE_S)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)


def probed(prober: subprocess.Popen[bytes], name: str) -> dict[str, Any]:
    output, _ = prober.communicate(timeout=120)
    answers = [line.split() for line in output.decode().splitlines()]
    seconds = [float(s) for _, s in answers]
    return {
        f"{name}_probes": len(answers),
        f"{name}_p50_ms": round(percentile(seconds, 50) * 1000, 1),
        f"{name}_p99_ms": round(percentile(seconds, 99) * 1000, 1),
        f"{name}_errors": sum(status != "200" for status, _ in answers),
    }


#: Interval between two /healthz probes, seconds.
PROBE_S = 0.05


def scenario_overload(run: Run, *, capacity: float, duration_s: float = 30) -> dict[str, Any]:
    # On a shared machine the capacity of a few minutes ago may be well under the present one,
    # and twice that no overload at all: measured again, the larger of the two counts.
    capacity = max(capacity, scenario_capacity(run)["ratings_per_s"])
    healthz = f"{run.server.url}/healthz"
    idle = probed(probe(healthz, duration_s=10), "idle_healthz")  # the machine's own noise
    pid = run.server.process.pid  # its main thread runs the event loop
    prober = probe(healthz, duration_s=duration_s)
    loop_cpu_before, process_cpu_before = cpu_s(pid, thread=pid), cpu_s(pid)
    answers = open_loop(run, rate_per_s=2 * capacity, duration_s=duration_s)
    loop_cpu_s, process_cpu_s = (
        cpu_s(pid, thread=pid) - loop_cpu_before,
        cpu_s(pid) - process_cpu_before,
    )
    busy = probed(prober, "healthz")
    refused = [a for a in answers if a.status == 503]
    ended = time.monotonic()
    while run.rate().status != 200 and time.monotonic() - ended < 60:
        time.sleep(0.5)
    return {
        "scenario": "overload",
        "offered_per_s": round(2 * capacity, 3),
        "requests": len(answers),
        "statuses": statuses(answers),
        "refused_with_retry_after": sum(a.retry_after is not None for a in refused),
        "ok_latency": latency(answers),
        **busy,
        **idle,
        "event_loop_cpu_s": round(loop_cpu_s, 2),
        "server_cpu_s": round(process_cpu_s, 2),
        "recovery_s": round(time.monotonic() - ended, 1),
    }


#: Worker processes of the server whose worker the kill scenario kills (`serve --workers 2`).
KILL_WORKERS = 2


def scenario_kill(run: Run, *, capacity: float, duration_s: float = 40) -> dict[str, Any]:
    """kill -9 of one of `serve --workers 2`'s workers during sustained load.

    Only the requests that worker was serving may fail (``in_flight_at_kill`` counts the
    requests of both workers then in flight); the other worker answers while it restarts."""
    single = run.server
    two = Supervised(env=single.env, port=free_port(), log=single.log.with_name("kill.log"),
                     workers=KILL_WORKERS)  # fmt: skip
    killed: dict[str, Any] = {}
    try:
        start_s = two.wait_ready()
        run.server = two

        def killer() -> None:
            time.sleep(duration_s / 3)
            victim = two.worker_pids()[0]
            killed["at"] = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            while two.startups() < KILL_WORKERS + 1 and time.monotonic() - killed["at"] < 120:
                time.sleep(0.1)
            killed["restart_s"] = round(time.monotonic() - killed["at"], 1)

        thread = threading.Thread(target=killer)
        thread.start()
        answers: list[Answer] = []
        figures = checked_load(run, rate_per_s=capacity / 2, duration_s=duration_s, out=answers)
        thread.join()
    finally:
        run.server = single
        two.stop()
    at = killed["at"]
    in_flight = [a for a in answers if a.started_at <= at < a.started_at + a.seconds]
    return {
        "scenario": "kill -9 of one of 2 workers",
        "workers_start_s": round(start_s, 1),
        "worker_restart_s": killed["restart_s"],
        "in_flight_at_kill": len(in_flight),
        "errors": sum(a.status != 200 for a in answers),
        "errors_after_kill": sum(a.status != 200 for a in answers if a.started_at > at),
        **figures,
    }


def scenario_dblock(run: Run, *, capacity: float, duration_s: float = 40) -> dict[str, Any]:
    def locker() -> None:
        time.sleep(duration_s / 3)
        with run.engine.begin() as connection:
            connection.execute(text("LOCK TABLE ratings IN ACCESS EXCLUSIVE MODE"))
            time.sleep(10)

    threading.Thread(target=locker).start()
    figures = checked_load(run, rate_per_s=capacity / 2, duration_s=duration_s)
    return {"scenario": "database lock 10 s", **figures}


def hostile_request(url: str) -> Answer:
    kind = random.choice(["bomb", "headers", "huge", "slow"])
    if kind == "bomb":  # 15 min of FLAC that compresses to almost nothing: refused by its header
        buffer = io.BytesIO()
        sf.write(buffer, np.full(8_000 * 60 * 16, 0.25, np.float32), 8_000, format="FLAC")
        body, content_type = multipart({"reference": buffer.getvalue(), "candidate": b"x"})
        return request(url, method="POST", body=body, headers={"Content-Type": content_type})
    if kind == "headers":
        headers = {f"X-Junk-{i}": "a" * 4000 for i in range(20)}
        return request(url, method="POST", body=b"x", headers=headers)
    started = time.perf_counter()
    host, port = url.split("//")[1].split("/")[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            size = 500 * 1024 * 1024
            sock.sendall(
                f"POST /rate HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\nContent-Type: "
                "multipart/form-data; boundary=b\r\n\r\n".encode()
            )
            if kind == "huge":
                status = sock.recv(64)
            else:  # slow: a byte a second for 10 s, then give up
                for _ in range(10):
                    sock.sendall(b"-")
                    time.sleep(1)
                status = b"HTTP/1.1 000"
        code = int(status.split()[1]) if status.startswith(b"HTTP/") else 0
    except OSError:
        code = 0
    return Answer(code, time.perf_counter() - started)


def scenario_hostile(run: Run, *, capacity: float, duration_s: float = 40) -> dict[str, Any]:
    quiet = open_loop(run, rate_per_s=capacity / 2, duration_s=duration_s)
    url = f"{run.server.url}/rate"

    def mixed() -> Answer:
        return hostile_request(url) if random.random() < 0.1 else run.rate()

    noisy = open_loop(run, rate_per_s=capacity / 2 / 0.9, duration_s=duration_s, make=mixed)
    legit = [a for a in noisy if a.rating_id is not None or a.status in (200, 503)]
    return {
        "scenario": "hostile 10 %",
        "quiet": {"statuses": statuses(quiet), **latency(quiet)},
        "mixed": {"statuses": statuses(noisy), **latency(legit)},
        "p50_ratio": round(latency(legit)["p50_ms"] / latency(quiet)["p50_ms"], 2),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def setup(base_url: str, scratch: str, data_dir: Path) -> tuple[Run, Engine, dict[str, str]]:
    server_url = make_url(base_url).set(drivername="postgresql+psycopg")
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{scratch}"'))
    url = server_url.set(database=scratch).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "MAX_CONCURRENT_ANALYSES": str(WORKERS),
        "MAX_QUEUED_ANALYSES": str(QUEUE),
    }
    cli = [str(BIN / "mastering-trainer")]

    def run_cli(*args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run([*cli, *args], env=env, input=stdin, capture_output=True, check=True)
        return done.stdout.decode().strip()

    run_cli("migrate")
    run_cli("user", "create", "--email", "load@example.org", stdin=b"load-password-1\n")
    run_cli("user", "create", "--email", "teacher@example.org", "--role", "instructor",
            stdin=b"load-password-1\n")  # fmt: skip
    token = run_cli("token", "create", "--email", "load@example.org")
    instructor = run_cli("token", "create", "--email", "teacher@example.org")
    engine = create_engine(url)
    from sqlalchemy.orm import Session

    from app.accounts.models import User
    from app.classes import service as classes

    with Session(engine) as db_session, db_session.begin():
        teacher = db_session.query(User).filter_by(email="teacher@example.org").one()
        student = db_session.query(User).filter_by(email="load@example.org").one()
        school_class = classes.create_class(db_session=db_session, instructor=teacher, name="Load")
        classes.join_class(db_session=db_session, user=student, code=school_class.join_code)
        class_id = school_class.id
    server = Supervised(env=env, port=free_port(), log=data_dir / "server.log")
    server.wait_ready()
    run = Run(server, engine, token, instructor, class_id, legit_body())
    return run, admin, env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sustained-s", type=float, default=300)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--database", help="scratch database name (default: <database>_load)")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL_POSTGRES")
    if not base:
        raise SystemExit("set DATABASE_URL_POSTGRES (PostgreSQL; its role may create databases)")
    scratch = args.database or f"{make_url(base).database}_load"
    chosen = set(filter(None, args.only.split(","))) or {
        "read", "sustained", "overload", "kill", "dblock", "hostile"
    }  # fmt: skip
    data_dir = Path(tempfile.mkdtemp(prefix="mt-load-"))
    run, admin, _ = setup(base, scratch, data_dir)
    print(json.dumps({"machine": f"{os.cpu_count()} CPUs", "workers": WORKERS, "queue": QUEUE}))
    try:
        if "read" in chosen:
            print(json.dumps(scenario_read(run)), flush=True)
        capacity_figures = scenario_capacity(run)
        print(json.dumps(capacity_figures), flush=True)
        capacity = capacity_figures["ratings_per_s"]
        if "sustained" in chosen:
            print(
                json.dumps(scenario_sustained(run, capacity=capacity, duration_s=args.sustained_s))
            )
        for name, scenario in [
            ("overload", scenario_overload),
            ("kill", scenario_kill),
            ("dblock", scenario_dblock),
            ("hostile", scenario_hostile),
        ]:
            if name in chosen:
                print(json.dumps(scenario(run, capacity=capacity)), flush=True)
    finally:
        run.server.stop()
        run.engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
