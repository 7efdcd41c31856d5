"""Shared fixtures: a seeded RNG, synthesised test signals and audio files on disk."""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import uvicorn
from scipy import signal

from tests import run_guard
from tests.components import require

SAMPLE_RATE_HZ = 44_100


def pink_noise(*, duration_s: float, sample_rate_hz: int, seed: int = 0) -> np.ndarray:
    """Pink (1/f power) noise, peak-normalised to -12 dBFS, float32."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate_hz)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequency_hz = np.fft.rfftfreq(n, 1 / sample_rate_hz)
    spectrum[1:] /= np.sqrt(frequency_hz[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.max(np.abs(noise)) * 10 ** (-12 / 20)).astype(np.float32)


def kick_and_hats(
    *, duration_s: float = 20.0, seed: int = 0, sample_rate_hz: int = SAMPLE_RATE_HZ
) -> np.ndarray:
    """Pink noise under a 55 Hz kick every half second: the kick sets a compressor's gain."""
    t = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    phase = t % 0.5
    kick = np.sin(2 * np.pi * 55.0 * t) * np.exp(-phase / 0.08)
    bed = pink_noise(duration_s=duration_s, sample_rate_hz=sample_rate_hz, seed=seed)
    mix = 0.5 * kick + 0.1 * bed / np.std(bed)
    return (0.25 * mix / np.max(np.abs(mix))).astype(np.float32)


def corpus_track(*, md5: str, index: int = 0, genre: str = "x", duration_s: float = 60.0) -> Any:
    """A corpus `Track` of a made-up package, file ``t<index>.ogg``, split by its `md5`."""
    from app.training.corpus import Track

    return Track(
        package="p",
        version="1",
        relative_path=f"t{index}.ogg",
        duration_s=duration_s,
        sample_rate_hz=SAMPLE_RATE_HZ,
        license="CC0",
        genre=genre,
        md5=md5,
        flags="",
    )


def low_passed(samples: np.ndarray, *, cutoff_hz: float, sample_rate_hz: int) -> np.ndarray:
    """`samples` through a steep elliptic low-pass (90 dB down), as an MP3 encoder cuts."""
    sos = signal.ellip(12, 0.1, 90, cutoff_hz, fs=sample_rate_hz, output="sos")
    return signal.sosfiltfilt(sos, samples, axis=0).astype(np.float32)


def ops_script(name: str) -> ModuleType:
    """The script ``ops/<name>.py``, loaded as a module of that name (its dataclasses look
    their module up in `sys.modules`)."""
    path = Path(__file__).resolve().parents[1] / "ops" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def pytest_configure(config: pytest.Config) -> None:
    """The run guard: the run fails when a collected test never ran (tests/run_guard.py)."""
    run_guard.register(config)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`needs("sox", ...)`, `postgres`, `browser`: fail under CI, else skip, when one is missing."""
    for mark in item.iter_markers("needs"):
        require(*mark.args)
    if item.get_closest_marker("postgres"):
        require("postgres")
    if item.get_closest_marker("browser"):
        require("chromium")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every run sees the same 'random' data."""
    return np.random.default_rng(20181029)


@pytest.fixture(scope="session")
def shipped_registry() -> Any:
    """The models shipped in models/, loaded once per session (about 1.6 s)."""
    require("models")
    from app.config import PROJECT_ROOT
    from app.ml.registry import load_registry

    return load_registry(PROJECT_ROOT / "models")


@pytest.fixture(scope="session")
def pink() -> np.ndarray:
    """Twenty seconds of pink noise at 44.1 kHz."""
    return pink_noise(duration_s=20.0, sample_rate_hz=SAMPLE_RATE_HZ)


@pytest.fixture
def write_audio(tmp_path: Path) -> Callable[..., Path]:
    """Write samples to an audio file under the test's folder and return its path."""

    def write(
        samples: np.ndarray,
        name: str = "audio.wav",
        *,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
        subtype: str | None = None,
        format: str | None = None,
    ) -> Path:
        path = tmp_path / name
        sf.write(path, samples, sample_rate_hz, subtype=subtype, format=format)
        return path

    return write


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free local port, in a thread; yield its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
