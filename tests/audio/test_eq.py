"""The RBJ peaking filter against its analytic response and against sox's `equalizer`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from app.audio.eq import (
    EqOperation,
    apply,
    cascade_sos,
    peaking_sos,
    response_db,
    shelf_slope_from_q,
)
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
    ops = [
        EqOperation(200.0, 6.0, 1.0),
        EqOperation(3000.0, -4.0, 2.0),
        EqOperation(120.0, 3.0, type="low_shelf"),
        EqOperation(6000.0, -4.0, type="high_shelf", slope=1.0),
    ]
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


# Shelves and pass filters ---------------------------------------------------------------------

SAMPLE_RATES_HZ = [44_100, 48_000, 96_000]


def low_shelf(frequency_hz: float, gain_db: float, slope: float = 0.5) -> EqOperation:
    return EqOperation(frequency_hz, gain_db, type="low_shelf", slope=slope)


def high_shelf(frequency_hz: float, gain_db: float, slope: float = 0.5) -> EqOperation:
    return EqOperation(frequency_hz, gain_db, type="high_shelf", slope=slope)


def high_pass(frequency_hz: float, order: int = 2) -> EqOperation:
    return EqOperation(frequency_hz, 0.0, type="high_pass", order=order)


def low_pass(frequency_hz: float, order: int = 2) -> EqOperation:
    return EqOperation(frequency_hz, 0.0, type="low_pass", order=order)


def _at(op: EqOperation, frequency_hz: list[float], *, sample_rate_hz: int) -> np.ndarray:
    return response_db([op], frequency_hz=np.array(frequency_hz), sample_rate_hz=sample_rate_hz)


@pytest.mark.parametrize("sample_rate_hz", SAMPLE_RATES_HZ)
@pytest.mark.parametrize("gain_db", [-9.0, -3.0, 3.0, 12.0])
@pytest.mark.parametrize("slope", [0.3, 0.5, 1.0])
def test_shelves_reach_their_gain_and_half_of_it_at_the_corner(
    sample_rate_hz: int, gain_db: float, slope: float
) -> None:
    low = _at(
        low_shelf(150.0, gain_db, slope), [1.0, 150.0, 15_000.0], sample_rate_hz=sample_rate_hz
    )
    np.testing.assert_allclose(low, [gain_db, gain_db / 2, 0.0], atol=0.02)
    high = _at(
        high_shelf(4000.0, gain_db, slope),
        [20.0, 4000.0, sample_rate_hz / 2 - 1],
        sample_rate_hz=sample_rate_hz,
    )
    np.testing.assert_allclose(high, [0.0, gain_db / 2, gain_db], atol=0.02)


@pytest.mark.parametrize("sample_rate_hz", SAMPLE_RATES_HZ)
@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("btype", ["high_pass", "low_pass"])
def test_pass_filters_are_the_butterworth_filters(
    sample_rate_hz: int, order: int, btype: str
) -> None:
    cutoff_hz = 40.0 if btype == "high_pass" else 9000.0
    op = EqOperation(cutoff_hz, 0.0, type=btype, order=order)  # type: ignore[arg-type]
    frequency_hz = np.geomspace(10, 20_000, 300)
    butter = signal.butter(
        order,
        cutoff_hz,
        btype="highpass" if btype == "high_pass" else "lowpass",
        fs=sample_rate_hz,
        output="sos",
    )
    _, h = signal.sosfreqz(butter, frequency_hz, fs=sample_rate_hz)
    got = response_db([op], frequency_hz=frequency_hz, sample_rate_hz=sample_rate_hz)
    np.testing.assert_allclose(got, 20 * np.log10(np.abs(h)), atol=1e-6)
    assert _at(op, [cutoff_hz], sample_rate_hz=sample_rate_hz)[0] == pytest.approx(-3.01, abs=0.01)
    # 6 dB per octave per order, well past the cutoff (an octave further is that much lower)
    far = (
        [cutoff_hz / 8, cutoff_hz / 16]
        if btype == "high_pass"
        else [cutoff_hz * 1.6, cutoff_hz * 3.2]
    )
    if far[-1] < sample_rate_hz / 4:
        drop_db = np.diff(_at(op, far, sample_rate_hz=sample_rate_hz))[0]
        assert drop_db == pytest.approx(-6.0 * order, abs=1.0)


def test_a_pass_filter_has_no_inverse() -> None:
    with pytest.raises(ValueError, match="high_pass filter cannot be undone"):
        high_pass(30.0).inverse()


def test_types_mix_in_one_cascade_and_their_responses_add_in_db() -> None:
    ops = [
        high_pass(30.0, 4),
        low_shelf(120.0, 3.0),
        EqOperation(1000.0, -2.0, 1.0),
        low_pass(15_000.0),
    ]
    frequency_hz = np.geomspace(20, 20_000, 60)
    together = response_db(ops, frequency_hz=frequency_hz, sample_rate_hz=48_000)
    apart = sum(response_db([op], frequency_hz=frequency_hz, sample_rate_hz=48_000) for op in ops)
    np.testing.assert_allclose(together, apart, atol=1e-9)
    assert cascade_sos(ops, sample_rate_hz=48_000).shape == (2 + 1 + 1 + 1, 6)


def test_response_of_a_cascade_is_scipys_down_its_stopbands() -> None:
    ops = [high_pass(200.0, 4), high_shelf(6_000.0, -9.0), low_pass(2_000.0, 4)]
    frequency_hz = np.geomspace(5, 22_000, 240).reshape(2, 120)
    sos = cascade_sos(ops, sample_rate_hz=44_100)
    _, h = signal.sosfreqz(sos, frequency_hz.ravel(), fs=44_100)
    got = response_db(ops, frequency_hz=frequency_hz, sample_rate_hz=44_100)
    assert got.shape == frequency_hz.shape
    assert got.min() < -150.0  # 5 Hz under a 200 Hz high-pass, 22 kHz over a 2 kHz low-pass
    np.testing.assert_allclose(got.ravel(), 20 * np.log10(np.abs(h)), atol=1e-6)


def test_shelf_slope_from_q_gives_the_shelf_of_that_q() -> None:
    # the cookbook: 1/Q = sqrt((A + 1/A)(1/S - 1) + 2)
    for gain_db, q in [(6.0, 0.707), (-3.0, 0.5), (9.0, 1.2)]:
        slope = shelf_slope_from_q(q=q, gain_db=gain_db)
        amplitude = 10 ** (gain_db / 40)
        assert 1 / np.sqrt((amplitude + 1 / amplitude) * (1 / slope - 1) + 2) == pytest.approx(q)


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (EqOperation(30.0, 0.0, type="high_pass", order=3), "order 3 must be one of"),
        (low_shelf(100.0, 12.0, slope=10.0), "too steep for 12.0 dB"),
        (high_shelf(100.0, 3.0, slope=0.0), "must be positive"),
        (low_pass(30_000.0), "corner frequency 30000.0 Hz must lie between 0 and 22050"),
    ],
)
def test_refuses_impossible_filters(op: EqOperation, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cascade_sos([op], sample_rate_hz=44_100)


IMPULSE = 0.25


def impulse(*, sample_rate_hz: int) -> np.ndarray:
    """Four seconds: the whole impulse response of these filters (the slowest, a
    4th-order 80 Hz high-pass, has decayed by far more than 100 dB by then)."""
    samples = np.zeros(4 * sample_rate_hz, dtype=np.float32)
    samples[0] = IMPULSE
    return samples


def sox_impulse_response(effects: list[str], *, sample_rate_hz: int, tmp_path: Path) -> np.ndarray:
    """What sox's effects make of `impulse`."""
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(source, impulse(sample_rate_hz=sample_rate_hz), sample_rate_hz, subtype="FLOAT")
    subprocess.run(
        ["sox", "-D", str(source), "-e", "floating-point", str(target), *effects], check=True
    )
    response, _ = sf.read(target, dtype="float64")
    return np.asarray(response)


def spectrum_db(response: np.ndarray, *, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """An impulse response's exact frequency response at its FFT bins, 20 Hz to 0.45 fs, dB."""
    frequency_hz = np.fft.rfftfreq(len(response), 1 / sample_rate_hz)
    magnitude = np.abs(np.fft.rfft(response)) / IMPULSE
    keep = (frequency_hz >= 20) & (frequency_hz <= 0.45 * sample_rate_hz)
    return frequency_hz[keep], 20 * np.log10(magnitude[keep])


def _sox_q(q: float) -> str:
    return f"{q:.9f}q"


@pytest.mark.needs("sox")
@pytest.mark.parametrize("sample_rate_hz", SAMPLE_RATES_HZ)
@pytest.mark.parametrize(
    ("op", "effects"),
    [
        (low_shelf(120.0, 3.0), ["bass", "3", "120", "0.5s"]),
        (low_shelf(80.0, -6.0, 1.0), ["bass", "-6", "80", "1s"]),
        (
            low_shelf(200.0, 9.0, shelf_slope_from_q(q=0.8, gain_db=9.0)),
            ["bass", "9", "200", "0.8q"],
        ),
        (high_shelf(6000.0, -3.0), ["treble", "-3", "6000", "0.5s"]),
        (high_shelf(3000.0, 6.0, 0.8), ["treble", "6", "3000", "0.8s"]),
        (high_pass(30.0), ["highpass", "30"]),
        (
            high_pass(80.0, 4),
            ["highpass", "80", _sox_q(0.5411961), "highpass", "80", _sox_q(1.3065630)],
        ),
        (low_pass(12_000.0), ["lowpass", "12000"]),
        (
            low_pass(8000.0, 4),
            ["lowpass", "8000", _sox_q(0.5411961), "lowpass", "8000", _sox_q(1.3065630)],
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_response_matches_sox(
    tmp_path: Path, sample_rate_hz: int, op: EqOperation, effects: list[str]
) -> None:
    sox_output = sox_impulse_response(effects, sample_rate_hz=sample_rate_hz, tmp_path=tmp_path)
    frequency_hz, theirs = spectrum_db(sox_output, sample_rate_hz=sample_rate_hz)
    ours = response_db([op], frequency_hz=frequency_hz, sample_rate_hz=sample_rate_hz)
    audible = ours > -40
    assert audible.sum() > 100
    np.testing.assert_allclose(theirs[audible], ours[audible], atol=0.02)
    # and `apply` filters as sox does, sample by sample
    filtered = apply(impulse(sample_rate_hz=sample_rate_hz), [op], sample_rate_hz=sample_rate_hz)
    np.testing.assert_allclose(filtered, sox_output, atol=1e-5)
