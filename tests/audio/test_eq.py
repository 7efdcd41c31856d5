"""The RBJ peaking filter against its analytic response and against sox's `equalizer`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from app.audio.eq import EqOperation, apply, peaking_sos, response_db
from app.audio.spectrum import SpectrumSpec, average_spectrum, band_difference_db

from ..conftest import pink_noise


@pytest.mark.parametrize("sample_rate_hz", [44_100, 48_000, 96_000])
@pytest.mark.parametrize("gain_db", [-12.0, -3.0, 6.0, 9.0])
@pytest.mark.parametrize("width_octaves", [0.5, 1.0, 2.0])
def test_response_matches_the_cookbook_filter(
    sample_rate_hz: int, gain_db: float, width_octaves: float
) -> None:
    op = EqOperation(1000.0, gain_db, width_octaves)
    frequency_hz = np.geomspace(20, 20_000, 400)
    _, h = signal.sosfreqz(
        peaking_sos(op, sample_rate_hz=sample_rate_hz), frequency_hz, fs=sample_rate_hz
    )
    expected = 20 * np.log10(np.abs(h))
    got = response_db([op], frequency_hz=frequency_hz, sample_rate_hz=sample_rate_hz)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert got[np.argmin(np.abs(frequency_hz - 1000))] == pytest.approx(gain_db, abs=0.05)


@pytest.mark.parametrize("width_octaves", [0.5, 1.0, 2.0])
def test_width_is_measured_between_half_gain_points(width_octaves: float) -> None:
    op = EqOperation(2000.0, 12.0, width_octaves)
    low, high = 2000.0 * 2 ** (-width_octaves / 2), 2000.0 * 2 ** (width_octaves / 2)
    at_edges = response_db([op], frequency_hz=np.array([low, high]), sample_rate_hz=192_000)
    np.testing.assert_allclose(at_edges, 6.0, atol=0.3)


def test_cut_undoes_boost_and_cascades_add_in_db(rng: np.random.Generator) -> None:
    ops = [EqOperation(200.0, 6.0, 1.0), EqOperation(3000.0, -4.0, 2.0)]
    noise = rng.standard_normal(44_100)
    restored = apply(
        apply(noise, ops, sample_rate_hz=44_100),
        [op.inverse() for op in ops],
        sample_rate_hz=44_100,
    )
    np.testing.assert_allclose(restored, noise, atol=1e-6)
    frequency_hz = np.geomspace(30, 18_000, 50)
    together = response_db(ops, frequency_hz=frequency_hz, sample_rate_hz=44_100)
    apart = sum(response_db([op], frequency_hz=frequency_hz, sample_rate_hz=44_100) for op in ops)
    np.testing.assert_allclose(together, apart, atol=1e-9)


@pytest.mark.parametrize("channels", [1, 2])
def test_apply_keeps_shape_and_dtype(channels: int, rng: np.random.Generator) -> None:
    audio = rng.standard_normal((1000, channels)).astype(np.float32).squeeze()
    out = apply(audio, [EqOperation(500.0, 3.0, 1.0)], sample_rate_hz=44_100)
    assert out.shape == audio.shape and out.dtype == np.float32


def test_refuses_a_centre_above_nyquist() -> None:
    with pytest.raises(ValueError, match="between 0 and 22050"):
        peaking_sos(EqOperation(30_000.0, 3.0, 1.0), sample_rate_hz=44_100)


@pytest.mark.needs("sox")
@pytest.mark.parametrize(
    ("sample_rate_hz", "op"),
    [
        (44_100, EqOperation(100.0, 6.0, 2.0)),
        (44_100, EqOperation(1000.0, -6.0, 1.0)),
        (44_100, EqOperation(8000.0, 9.0, 0.5)),
        (48_000, EqOperation(250.0, -12.0, 0.5)),
        (48_000, EqOperation(4000.0, 3.0, 2.0)),
        (96_000, EqOperation(60.0, -3.0, 1.0)),
        (96_000, EqOperation(12_000.0, 6.0, 1.0)),
    ],
)
def test_matches_sox_equalizer(tmp_path: Path, sample_rate_hz: int, op: EqOperation) -> None:
    noise = pink_noise(duration_s=10.0, sample_rate_hz=sample_rate_hz, seed=3)
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(source, noise, sample_rate_hz, subtype="FLOAT")
    subprocess.run(
        [
            "sox",
            "-D",
            str(source),
            "-e",
            "floating-point",
            str(target),
            "equalizer",
            f"{op.frequency_hz}",
            f"{op.width_octaves}o",
            f"{op.gain_db}",
        ],
        check=True,
    )
    theirs, _ = sf.read(target, dtype="float32")
    ours = apply(noise, [op], sample_rate_hz=sample_rate_hz)
    spec = SpectrumSpec(
        sample_rate_hz=sample_rate_hz, n_fft=8192 if sample_rate_hz > 48_000 else 4096
    )
    difference = band_difference_db(
        average_spectrum(theirs, spec=spec),
        average_spectrum(ours, spec=spec),
        spec=spec,
    )
    centres = spec.band_centres_hz
    in_range = (centres >= 40) & (centres <= 16_000)
    assert np.max(np.abs(difference[in_range])) < 0.1
