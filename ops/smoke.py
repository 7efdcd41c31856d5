"""Rate a generated pair of masters over HTTP and print what came back, as JSON.

Needs only the standard library, numpy and soundfile, so it runs inside the image as well as on the
host. Used by ops/docker-test.sh and ops/scaleout.py:

    python ops/smoke.py http://127.0.0.1:8000 [--token TOKEN] [--count 4] [--concurrency 2]

Prints {"statuses": {...}, "ids": [...], "seconds": ...}; exits 1 unless every answer is 200.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import soundfile as sf


def masters(*, seconds: float = 6.0, sample_rate_hz: int = 22050) -> tuple[bytes, bytes]:
    """A noise 'reference' and a 'candidate' with its treble cut, as WAV bytes."""
    rng = np.random.default_rng(7)
    reference = rng.standard_normal(int(seconds * sample_rate_hz)).astype(np.float32) * 0.1
    smoothed = np.convolve(reference, np.ones(4, dtype=np.float32) / 4, mode="same")
    candidate = 0.5 * reference + 0.5 * smoothed
    files = []
    for samples in (reference, candidate):
        buffer = io.BytesIO()
        sf.write(buffer, samples, sample_rate_hz, format="WAV", subtype="PCM_16")
        files.append(buffer.getvalue())
    return files[0], files[1]


def multipart(files: dict[str, bytes]) -> tuple[bytes, str]:
    """Encode WAV files as a multipart/form-data body; returns it and its content type."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def rate_once(url: str, *, body: bytes, content_type: str, token: str | None) -> dict[str, Any]:
    """POST one pair to /rate; the status, the stored id and who answered (X-Request-ID)."""
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/rate", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read())
            return {"status": response.status, "id": answer.get("id"), "rating": answer["rating"]}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "detail": error.read()[:200].decode("utf-8", "replace")}
    except OSError as error:
        return {"status": 0, "detail": f"{type(error).__name__}: {error}"}


def main() -> int:
    """Run the requests and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--token")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    reference, candidate = masters()
    body, content_type = multipart({"reference": reference, "candidate": candidate})
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as executor:
        answers = list(
            executor.map(
                lambda _: rate_once(
                    args.url.rstrip("/"), body=body, content_type=content_type, token=args.token
                ),
                range(args.count),
            )
        )
    statuses = Counter(str(answer["status"]) for answer in answers)
    summary = {
        "statuses": dict(statuses),
        "ids": [answer["id"] for answer in answers if answer.get("id") is not None],
        "ratings": sorted({answer["rating"] for answer in answers if "rating" in answer}),
        "errors": [answer["detail"] for answer in answers if "detail" in answer][:5],
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(summary))
    return 0 if statuses == Counter({"200": args.count}) else 1


if __name__ == "__main__":
    sys.exit(main())
