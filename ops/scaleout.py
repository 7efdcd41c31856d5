"""make scaleout: two server processes on one PostgreSQL, without Docker.

Creates a scratch database next to DATABASE_URL_POSTGRES (or SCALEOUT_DATABASE_URL's server),
migrates it once, creates a user and an API token with the command line, starts two
`mastering-trainer serve --no-migrate` processes on two ports, sends signed-in ratings to both at
once and checks that every 2xx answer is stored exactly once (and nothing else is). Drops the
database and stops the servers at the end, also on failure. Prints its figures as JSON lines.

    DATABASE_URL_POSTGRES=postgresql+psycopg://trainer:trainer@127.0.0.1:5432/trainer_test \
        .venv/bin/python ops/scaleout.py [--ratings 24] [--concurrency 6]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ops"))
from smoke import masters, multipart, rate_once  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, *, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    """Wait until `url`/readyz answers 200; fail early if the server died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server behind {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout_s} s")


def main() -> int:
    """Run the scale-out check; exit 1 when a rating is lost or stored twice."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ratings", type=int, default=24, help="ratings sent, split over both")
    parser.add_argument("--concurrency", type=int, default=6, help="requests in flight at once")
    parser.add_argument("--database", help="scratch database name (default: <database>_scaleout)")
    args = parser.parse_args()
    base = os.environ.get("SCALEOUT_DATABASE_URL") or os.environ.get("DATABASE_URL_POSTGRES")
    if not base:
        raise SystemExit("set DATABASE_URL_POSTGRES (PostgreSQL; its role may create databases)")
    server = make_url(base).set(drivername="postgresql+psycopg")
    scratch = args.database or f"{server.database}_scaleout"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{scratch}"'))
    url = server.set(database=scratch).render_as_string(hide_password=False)
    data_dir = Path(tempfile.mkdtemp(prefix="mt-scaleout-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "MAX_CONCURRENT_ANALYSES": "1",
        "MAX_QUEUED_ANALYSES": "8",
    }
    servers: list[subprocess.Popen[bytes]] = []
    try:
        cli = [str(BIN / "mastering-trainer")]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*cli, "user", "create", "--email", "scaleout@example.org"],
            input=b"scaleout-password\n",
            env=env,
            check=True,
            capture_output=True,
        )
        token = (
            subprocess.run(
                [*cli, "token", "create", "--email", "scaleout@example.org"],
                env=env,
                check=True,
                capture_output=True,
            )
            .stdout.decode()
            .strip()
        )
        urls = []
        for index in range(2):
            port = free_port()
            log = open(data_dir / f"server-{index}.log", "wb")  # noqa: SIM115
            servers.append(
                subprocess.Popen(
                    [*cli, "serve", "--no-migrate", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url_, process in zip(urls, servers, strict=True):
            wait_ready(url_, process=process)
        reference, candidate = masters()
        body, content_type = multipart({"reference": reference, "candidate": candidate})
        started = time.perf_counter()

        def send(index: int) -> dict[str, Any]:
            answer = rate_once(urls[index % 2], body=body, content_type=content_type, token=token)
            return {**answer, "server": index % 2}

        with ThreadPoolExecutor(args.concurrency) as threads:
            answers = list(threads.map(send, range(args.ratings)))
        seconds = time.perf_counter() - started
        ok_ids = [a["id"] for a in answers if a["status"] == 200]
        with create_engine(url).connect() as connection:
            stored = [row[0] for row in connection.execute(text("SELECT id FROM ratings"))]
        per_server = Counter(a["server"] for a in answers if a["status"] == 200)
        figures = {
            "servers": 2,
            "ratings_sent": args.ratings,
            "concurrency": args.concurrency,
            "statuses": dict(Counter(str(a["status"]) for a in answers)),
            "ok_per_server": [per_server[0], per_server[1]],
            "rows_stored": len(stored),
            "distinct_ids": len(set(stored)),
            "seconds": round(seconds, 2),
            "ratings_per_s": round(len(ok_ids) / seconds, 2),
        }
        print(json.dumps(figures))
        problems = []
        if sorted(stored) != sorted(ok_ids) or len(set(stored)) != len(stored):
            problems.append("the stored ratings are not exactly the 2xx answers")
        if not (per_server[0] and per_server[1]):
            problems.append("one server stored nothing")
        if any(a["status"] not in (200, 503) for a in answers):
            problems.append(f"unexpected answers: {[a for a in answers if a['status'] != 200][:3]}")
        for problem in problems:
            print("FAIL:", problem, file=sys.stderr)
        if not problems:
            print("scaleout passed: every 2xx rating stored exactly once, both servers served")
        return 1 if problems else 0
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    sys.exit(main())
