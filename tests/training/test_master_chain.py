"""The compressor and limiter a trainee master goes through (pedalboard's, training only)."""

from __future__ import annotations

import numpy as np
import pytest

from app.training.master_chain import (
    LIMITER_LOOKAHEAD_MS,
    LimiterKind,
    MasterChain,
    apply_chain,
    draw_chain,
    lookahead_limit,
)

from ..conftest import pink_noise

SR = 44_100


def peak_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(samples))))


def crest_db(samples: np.ndarray) -> float:
    return peak_db(samples) - float(10 * np.log10(np.mean(samples.astype(float) ** 2)))


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """Pink noise whose level swells and falls, as music does."""
    noise = pink_noise(duration_s=6.0, sample_rate_hz=SR, seed=4)
    swell = 0.3 + 0.7 * np.abs(np.sin(np.linspace(0, 6 * np.pi, len(noise))))
    return (noise * swell).astype(np.float32)


def test_draws_stay_in_the_engineers_ranges(rng: np.random.Generator) -> None:
    for _ in range(200):
        chain = draw_chain(rng=rng, compressor=True, limiter=True)
        assert -30 <= chain.threshold_dbfs <= -8 and 1.5 <= chain.ratio <= 6
        assert 1 <= chain.attack_ms <= 50 and 50 <= chain.release_ms <= 500
        assert 0 <= chain.limiter_gain_reduction_db <= 12
        row = chain.to_row()
        np.testing.assert_array_equal(MasterChain.from_row(row).to_row(), row)
    alone = draw_chain(rng=rng, compressor=False, limiter=True)
    assert alone.limits and not alone.compresses


def test_limiter_kinds_draw_from_their_own_stream() -> None:
    def draws(kind_seed: int) -> list[MasterChain]:
        rng, kind_rng = np.random.default_rng(1), np.random.default_rng(kind_seed)
        return [
            draw_chain(rng=rng, compressor=True, limiter=True, kind_rng=kind_rng)
            for _ in range(300)
        ]

    first, second = draws(2), draws(3)
    assert {c.kind for c in first} == set(LimiterKind)
    assert [c.kind for c in first] != [c.kind for c in second]
    for a, b in zip(first, second, strict=True):
        assert (a.threshold_dbfs, a.ratio, a.limiter_release_ms) == (
            b.threshold_dbfs,
            b.ratio,
            b.limiter_release_ms,
        )
    clipped = [c.limiter_gain_reduction_db for c in first if c.kind is LimiterKind.CLIPPER]
    assert max(clipped) <= 6.0 < max(c.limiter_gain_reduction_db for c in first)
    assert MasterChain(limiter_gain_reduction_db=3.0).kind is LimiterKind.LOOKAHEAD
    # Without a stream for the kinds, the lookahead limiter, and the rest drawn as before.
    rng = np.random.default_rng(1)
    plain = [draw_chain(rng=rng, compressor=True, limiter=True) for _ in range(300)]
    assert {c.kind for c in plain} == {LimiterKind.LOOKAHEAD}
    assert [c.limiter_release_ms for c in plain] == [c.limiter_release_ms for c in first]


@pytest.mark.parametrize("kind", list(LimiterKind))
def test_every_limiter_kind_takes_off_the_drawn_reduction_at_the_loudest_peak(
    music: np.ndarray, kind: LimiterKind
) -> None:
    chain = MasterChain(
        limiter_gain_reduction_db=6.0, limiter_release_ms=100.0, limiter_kind=float(kind)
    )
    limited = apply_chain(music, chain, sample_rate_hz=SR, input_gain_db=-peak_db(music))
    assert peak_db(limited) == pytest.approx(0.0, abs=0.01)
    # The crest factor falls by nearly the reduction, most for the clipper, which flattens
    # every top over its ceiling; JUCE's compresses 4:1 above -10 dBFS first, so by more.
    # Measured: 4.2 (lookahead), 4.3 (instant), 5.9 (clipper), 8.1 dB (JUCE's).
    fall_db = crest_db(music) - crest_db(limited)
    low_db, high_db = (6.0, 10.0) if kind is LimiterKind.JUCE else (3.0, 6.0)
    assert low_db < fall_db < high_db, fall_db
    # Measured: 0.03 %, 0.05 %, 0.86 % and 3.0 % of the samples within 0.01 dB of
    # full scale: the clipper and JUCE's hard-clip.
    at_ceiling = np.mean(np.abs(limited) >= 10 ** (-0.01 / 20))
    clips = kind in (LimiterKind.CLIPPER, LimiterKind.JUCE)
    assert (at_ceiling > 0.004) == clips, at_ceiling


def test_a_limiter_without_lookahead_leaves_the_signal_alone_until_the_peak() -> None:
    quiet = np.full(SR // 5, 0.1, dtype=np.float32)
    quiet[SR // 20] = 1.0
    chain = MasterChain(
        limiter_gain_reduction_db=12.0,
        limiter_release_ms=50.0,
        limiter_kind=float(LimiterKind.INSTANT),
    )
    limited = apply_chain(quiet, chain, sample_rate_hz=SR, input_gain_db=0.0)
    make_up_db = 12.0
    before_db = 20 * np.log10(limited[: SR // 20] / 0.1) - make_up_db
    np.testing.assert_allclose(before_db, 0.0, atol=1e-4)
    assert peak_db(limited) == pytest.approx(0.0, abs=1e-4)
    after_db = 20 * np.log10(limited[SR // 20 + 1 : SR // 20 + SR // 100] / 0.1) - make_up_db
    assert after_db[0] < -11.0 and after_db[-1] > after_db[0]  # released after the peak


def test_the_limiter_squeezes_the_peaks_more_the_more_it_takes_off(music: np.ndarray) -> None:
    falls = []
    for reduction_db in (0.0, 3.0, 9.0):
        chain = MasterChain(limiter_gain_reduction_db=reduction_db, limiter_release_ms=100.0)
        limited = apply_chain(music, chain, sample_rate_hz=SR, input_gain_db=-peak_db(music))
        assert peak_db(limited) <= 1e-4  # make-up gain brings the ceiling back to the peak
        falls.append(crest_db(music) - crest_db(limited))
    # Measured: the crest factor falls by 0.0, 2.6 and 5.1 dB.
    assert abs(falls[0]) < 0.01 and falls[0] + 2.0 < falls[1] < falls[2] - 2.0, falls


def test_the_compressor_narrows_the_dynamics(music: np.ndarray) -> None:
    chain = MasterChain(threshold_dbfs=-24.0, ratio=4.0, attack_ms=5.0, release_ms=100.0)
    compressed = apply_chain(music, chain, sample_rate_hz=SR, input_gain_db=12.0)
    loud, quiet = slice(0, SR // 2), slice(int(SR * 0.9), int(SR * 1.1))

    def rms_db(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x.astype(float) ** 2)))

    before = rms_db(music[loud]) - rms_db(music[quiet])
    after = rms_db(compressed[loud]) - rms_db(compressed[quiet])
    assert after < before - 1.0


def test_the_limiter_takes_off_the_drawn_gain_reduction_and_clips_nothing(
    music: np.ndarray,
) -> None:
    loudest = int(np.argmax(np.abs(music)))
    for reduction_db in (0.0, 6.0, 12.0):
        chain = MasterChain(limiter_gain_reduction_db=reduction_db, limiter_release_ms=100.0)
        limited = apply_chain(music, chain, sample_rate_hz=SR, input_gain_db=-peak_db(music))
        gain_db = 20 * np.log10(np.abs(limited) + 1e-12) - 20 * np.log10(np.abs(music) + 1e-12)
        gain_db += peak_db(music)  # the gain the limiter applied, make-up included
        # untouched stretches get the make-up gain; the loudest peak lands back at 0 dBFS
        assert gain_db.max() == pytest.approx(reduction_db, abs=0.01)
        assert gain_db[loudest] == pytest.approx(0.0, abs=0.01)
        # pedalboard's Limiter took off 3.7 dB at 0 dB drawn and 6.3 dB at 6 dB drawn,
        # clipping 3 % of the samples (9.3 dB and 9 % at 9 dB drawn). Measured here:
        # 0.01 % of the samples within 0.1 dB of full scale at 12 dB drawn.
        assert np.mean(np.abs(limited) >= 10 ** (-0.1 / 20)) < 0.002


def test_no_sample_passes_the_ceiling_and_the_gain_falls_ahead_of_a_peak() -> None:
    quiet = np.full(SR // 5, 0.1, dtype=np.float32)
    quiet[SR // 20] = 1.0  # one sample 20 dB above the rest, 50 ms in
    limited = lookahead_limit(quiet, ceiling=0.25, sample_rate_hz=SR, release_ms=50.0)
    assert np.max(np.abs(limited)) <= 0.25 * (1 + 1e-6)
    assert peak_db(limited[SR // 20 : SR // 20 + 1]) == pytest.approx(peak_db(np.array([0.25])))
    lookahead = int(LIMITER_LOOKAHEAD_MS * SR / 1000)
    before_db = 20 * np.log10(limited[: SR // 20] / 0.1)
    assert np.all(before_db[: SR // 20 - lookahead] > -1e-6)  # untouched until the lookahead
    assert before_db[SR // 20 - lookahead // 2] < -3.0  # ramping down ahead of the peak
    after_db = 20 * np.log10(limited[SR // 20 + 1 :] / 0.1)
    # the reduction then decays with the release: 12 dB at the peak, /e after 50 ms
    # (plus half the lookahead, by which the ramp's moving average lags)
    assert after_db[int(0.05 * SR) + lookahead // 2] == pytest.approx(-12.04 / np.e, abs=0.2)


def test_the_limiter_takes_off_what_pedalboards_brickwall_does_with_fewer_flat_tops(
    music: np.ndarray,
) -> None:
    from pedalboard import Compressor

    peak = float(np.max(np.abs(music)))
    ceiling = peak * 10 ** (-6 / 20)
    ours = lookahead_limit(music, ceiling=ceiling, sample_rate_hz=SR, release_ms=100.0)
    # pedalboard's compressor at 1000:1 with an instant attack: a brickwall without lookahead
    theirs = Compressor(
        threshold_db=20 * np.log10(ceiling), ratio=1000.0, attack_ms=0.001, release_ms=100.0
    )(music, SR)
    assert peak_db(ours) == pytest.approx(20 * np.log10(ceiling), abs=0.01)
    assert peak_db(theirs) == pytest.approx(20 * np.log10(ceiling), abs=0.05)
    # Measured: crest factors of 10.9 and 9.7 dB (15.1 dB before); theirs flattens every
    # sample over the ceiling as it comes, ours ramps the gain down ahead of it.
    assert crest_db(theirs) < crest_db(ours) < crest_db(theirs) + 2.0

    def flat_tops(x: np.ndarray) -> float:
        return float(np.mean(np.abs(x) >= np.max(np.abs(x)) * 10 ** (-0.1 / 20)))

    # Measured: 0.04 % of ours within 0.1 dB of the ceiling against 0.26 % of theirs.
    assert flat_tops(ours) < flat_tops(theirs) / 3
