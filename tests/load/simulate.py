"""The capacity model of docs/scaling.md as a simulation: replicas with analysis workers and an
admission queue (503 beyond it), Poisson arrivals, service times measured by `make load`.

    .venv/bin/python -m tests.load.simulate --service-s 1.67 --workers 2 --queue 4 \
        --replicas 1 --rate 2.4 --minutes 1

prints {"offered", "completed", "refused_fraction", "wait_p99_s", "utilisation"}. Checked against
the overload scenario of `make load` (docs/reliability.md): one replica at twice its capacity
refuses about half the ratings.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random


def simulate(
    *,
    rate_per_s: float,
    service_s: float,
    workers: int,
    queue: int,
    replicas: int,
    seconds: float,
    seed: int = 1,
) -> dict[str, float]:
    """Event-driven M/G/c/K per replica, round-robin between replicas (as nginx does)."""
    rng = random.Random(seed)
    busy_until: list[list[float]] = [[] for _ in range(replicas)]  # heaps of finish times
    waits: list[float] = []
    refused = completed = offered = 0
    busy_s = 0.0
    now = 0.0
    turn = 0
    while True:
        now += rng.expovariate(rate_per_s)
        if now > seconds:
            break
        offered += 1
        replica = busy_until[turn % replicas]
        turn += 1
        while replica and replica[0] <= now:
            heapq.heappop(replica)
        if len(replica) >= workers + queue:
            refused += 1
            continue
        service = rng.lognormvariate(0, 0.25) * service_s
        if len(replica) < workers:
            start = now
        else:  # the earliest slot that frees up among the running ones
            start = sorted(replica)[len(replica) - workers]
        heapq.heappush(replica, start + service)
        waits.append(start - now)
        busy_s += service
        completed += 1
    waits.sort()
    return {
        "offered": offered,
        "completed": completed,
        "refused_fraction": round(refused / max(offered, 1), 3),
        "wait_p99_s": round(waits[int(0.99 * (len(waits) - 1))] if waits else 0.0, 2),
        "utilisation": round(busy_s / (seconds * workers * replicas), 2),
    }


def main() -> None:
    """Run one simulation from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, required=True, help="ratings offered per second")
    parser.add_argument("--service-s", type=float, required=True, help="wall s per analysis")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", type=int, default=4)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    print(
        json.dumps(
            simulate(
                rate_per_s=args.rate,
                service_s=args.service_s,
                workers=args.workers,
                queue=args.queue,
                replicas=args.replicas,
                seconds=args.minutes * 60,
            )
        )
    )


if __name__ == "__main__":
    main()
