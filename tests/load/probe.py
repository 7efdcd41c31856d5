"""Probe a URL from a process of its own: its latency, not the load generator's threads.

    python -m tests.load.probe URL DURATION_S [INTERVAL_S]

GETs URL every INTERVAL_S (0.1) for DURATION_S seconds on one thread, and prints one line per
request: the status (0 without an answer) and the seconds it took.
"""

from __future__ import annotations

import http.client
import sys
import time
import urllib.error
import urllib.request


def get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, http.client.HTTPException):
        status = 0
    return status, time.perf_counter() - started


def main() -> int:
    url, duration_s = sys.argv[1], float(sys.argv[2])
    interval_s = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
    ended = time.monotonic() + duration_s
    while time.monotonic() < ended:
        status, seconds = get(url)
        print(status, f"{seconds:.6f}", flush=True)
        time.sleep(interval_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
