"""POST /rate through HTTP on localhost against the in-process analysis, measured in one run.

For a pair of 3-minute 44.1 kHz stereo WAV files: the in-process analysis time
(`app.rating.service.rate`, one at a time and two at once), then uvicorn in a
subprocess on a free 127.0.0.1 port, hit by 1, 2 and 4 clients: latency median
and p99, pairs per second, and their ratios to the in-process figures.

It also times the analysis with and without the whole-master measures (loudness,
dynamics, stereo), alternating in the same run, and prints their ratio.

Run: ``python -m bench.service`` (``make bench``). Request counts are bounded
(``--requests`` per client count); the whole run takes about a minute.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from app.audio.eq import EqOperation, apply
from app.config import PROJECT_ROOT, Settings
from app.ml.registry import ModelLoadError, load_registry
from app.rating.service import Upload, one_blas_thread_per_caller, rate

SAMPLE_RATE_HZ = 44_100
DURATION_S = 180.0
CLIENTS = (1, 2, 4)


def write_pair(folder: Path) -> tuple[Path, Path]:
    """A 3-minute stereo pink-noise 'master' and the same through a known EQ, 16-bit WAV."""
    rng = np.random.default_rng(2018)
    n = int(DURATION_S * SAMPLE_RATE_HZ)
    spectrum = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    frequency_hz = np.fft.rfftfreq(n, 1 / SAMPLE_RATE_HZ)
    spectrum[:, 1:] /= np.sqrt(frequency_hz[1:])
    spectrum[:, 0] = 0
    master = np.fft.irfft(spectrum, n, axis=1).T
    master = (master / np.max(np.abs(master)) * 10 ** (-12 / 20)).astype(np.float32)
    operations = [EqOperation(261.63, 6.0, 2.0), EqOperation(4186.01, -6.0, 2.0)]
    reference, candidate = folder / "reference.wav", folder / "candidate.wav"
    sf.write(reference, master, SAMPLE_RATE_HZ, subtype="PCM_16")
    sf.write(candidate, apply(master, operations, sample_rate_hz=SAMPLE_RATE_HZ), SAMPLE_RATE_HZ)
    return reference, candidate


def multipart_body(reference: Path, candidate: Path) -> tuple[bytes, str]:
    """Encode the form once, so the clients spend no CPU building it."""
    boundary = "mastering-trainer-bench-boundary"
    parts = []
    for name, path in (("reference", reference), ("candidate", candidate)):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
            + path.read_bytes()
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with few samples, p99 is the slowest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(q / 100 * len(ordered))) - 1))]


def in_process(reference: Path, candidate: Path, *, repeats: int) -> tuple[float, float, str]:
    """Median seconds of one analysis, pairs/s with two at once, and the model id."""
    registry = load_registry(Settings(_env_file=None).MODELS_DIR)  # type: ignore[call-arg]
    model = registry.get()

    def once() -> float:
        started = time.perf_counter()
        rate(reference=Upload(source=reference), candidate=Upload(source=candidate), model=model)
        return time.perf_counter() - started

    once()  # warm caches
    single = statistics.median(once() for _ in range(repeats))
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: once(), range(2 * max(2, repeats // 2))))
    parallel_rate = 2 * max(2, repeats // 2) / (time.perf_counter() - started)
    return single, parallel_rate, model.id


def measures_cost(
    reference: Path, candidate: Path, *, repeats: int
) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds of an analysis without and with the whole-master measures.

    The two kinds alternate, so drift in background load falls on both alike. CPU time
    (every thread of the process) shows what the measures cost a busy server, where
    running them beside the EQ comparison hides nothing.
    """
    registry = load_registry(Settings(_env_file=None).MODELS_DIR)  # type: ignore[call-arg]
    model = registry.get()
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}

    def once(measure: bool) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        rate(
            reference=Upload(source=reference),
            candidate=Upload(source=candidate),
            model=model,
            measure=measure,
        )
        return time.perf_counter() - wall, time.process_time() - cpu

    once(True)  # warm caches
    for _ in range(repeats):
        for measure in (False, True):
            times[measure].append(once(measure))
    without, with_ = times[False], times[True]
    return (
        statistics.median(t[0] for t in without),
        statistics.median(t[0] for t in with_),
        statistics.median(t[1] for t in without),
        statistics.median(t[1] for t in with_),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, *, data_dir: Path, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "MAX_CONCURRENT_ANALYSES": str(workers),
        "MAX_QUEUED_ANALYSES": "8",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=PROJECT_ROOT,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("uvicorn did not become healthy within 120 s")


def load_test(
    port: int, body: bytes, content_type: str, *, clients: int, per_client: int
) -> tuple[list[float], float, int]:
    """Latencies of successful requests, total seconds, and failures.

    The clients use `http.client`, which hands the prepared body to the socket in one
    call, so they take as little CPU from the server as curl would.
    """
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}

    def client() -> None:
        nonlocal failures
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                connection.request("POST", "/rate", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status == 200:
                        latencies.append(elapsed)
                    else:
                        failures += 1
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return latencies, time.perf_counter() - started, failures


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="requests per client count")
    parser.add_argument("--repeats", type=int, default=5, help="in-process analyses timed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    one_blas_thread_per_caller()  # as the server and the rate command hold it

    with tempfile.TemporaryDirectory(prefix="bench-service-") as folder:
        reference, candidate = write_pair(Path(folder))
        try:
            before = in_process(reference, candidate, repeats=args.repeats)
        except ModelLoadError as error:
            raise SystemExit(f"bench.service needs trained models: {error}") from None
        body, content_type = multipart_body(reference, candidate)
        print(
            f"bench.service: 2 x {DURATION_S:.0f} s 44.1 kHz stereo WAV "
            f"({len(body) / 1e6:.1f} MB per request), model {before[2]}, "
            f"{os.cpu_count()} cores, {args.workers} analysis workers, "
            f"load average {os.getloadavg()[0]:.1f} at start"
        )
        rows = []
        port = free_port()
        server = start_server(port, data_dir=Path(folder) / "var", workers=args.workers)
        try:
            load_test(port, body, content_type, clients=1, per_client=1)  # warm up
            for clients in CLIENTS:
                per_client = max(1, args.requests // clients)
                rows.append(
                    (
                        clients,
                        *load_test(
                            port, body, content_type, clients=clients, per_client=per_client
                        ),
                    )
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
        after = in_process(reference, candidate, repeats=args.repeats)
        wall_without, wall_with, cpu_without, cpu_with = measures_cost(
            reference, candidate, repeats=args.repeats
        )

    # The in-process floor is measured before and after the HTTP runs; their mean is the
    # reference, so drift in background load affects both sides alike.
    single_s = (before[0] + after[0]) / 2
    parallel_rate = (before[1] + after[1]) / 2
    print(
        f"in-process analysis: {single_s:.3f} s median one at a time "
        f"(before {before[0]:.3f}, after {after[0]:.3f}); {parallel_rate:.2f} pairs/s two at "
        f"a time (before {before[1]:.2f}, after {after[1]:.2f})"
    )
    print(
        f"/rate analysis without / with loudness, dynamics and stereo (alternating, median of "
        f"{args.repeats}): {wall_without:.3f} s / {wall_with:.3f} s wall, ratio "
        f"{wall_with / wall_without:.2f}x; CPU {cpu_without:.3f} s / {cpu_with:.3f} s, ratio "
        f"{cpu_with / cpu_without:.2f}x (target: at most 1.25x)"
    )
    print(
        f"{'clients':>7} {'requests':>8} {'median s':>9} {'p99 s':>7} {'pairs/s':>8} "
        f"{'median/in-process':>18} {'pairs/s vs 2-at-once':>21}"
    )
    for clients, latencies, total_s, failures in rows:
        if not latencies:
            print(f"{clients:>7} all {failures} requests failed")
            continue
        median = statistics.median(latencies)
        pairs_per_s = len(latencies) / total_s
        print(
            f"{clients:>7} {len(latencies):>8} {median:>9.3f} "
            f"{percentile(latencies, 99):>7.3f} {pairs_per_s:>8.2f} "
            f"{median / single_s:>17.2f}x {pairs_per_s / parallel_rate:>20.0%}"
            + (f"  ({failures} failed)" if failures else "")
        )


if __name__ == "__main__":
    main()
