"""Suggestions: inverse moves, bands, words, strength."""

from __future__ import annotations

import pytest

from app.audio.eq import EqOperation
from app.ml.suggestions import band_of, format_frequency, format_gain, suggest


@pytest.mark.parametrize(
    ("frequency_hz", "band"),
    [
        (20.0, "bass"),
        (261.63, "bass"),
        (499.9, "bass"),
        (500.0, "mids"),
        (1046.5, "mids"),
        (2000.0, "mids"),
        (2093.0, "treble"),
        (16_744.0, "treble"),
    ],
)
def test_bands_split_at_500_hz_and_2_khz(frequency_hz: float, band: str) -> None:
    assert band_of(frequency_hz) == band


@pytest.mark.parametrize(
    ("frequency_hz", "text"),
    [
        (32.7, "33 Hz"),
        (261.63, "262 Hz"),
        (999.6, "1 kHz"),
        (1046.5, "1 kHz"),
        (4186.0, "4.2 kHz"),
        (16_744.04, "16.7 kHz"),
        (2000.0, "2 kHz"),
    ],
)
def test_frequencies_read_like_an_engineer_says_them(frequency_hz: float, text: str) -> None:
    assert format_frequency(frequency_hz) == text


@pytest.mark.parametrize(
    ("gain_db", "text"),
    [(6.0, "6 dB"), (-6.0, "6 dB"), (3.2, "3 dB"), (4.8, "5 dB"), (0.3, "0.3 dB")],
)
def test_gains_round_to_half_a_decibel(gain_db: float, text: str) -> None:
    assert format_gain(gain_db) == text


def test_the_contract_example() -> None:
    operations = [EqOperation(261.63, 6.0, 2.0), EqOperation(4186.0, -6.0, 2.0)]
    first, second = suggest(operations)
    assert (first.band, first.action, first.frequency_hz, first.gain_db) == (
        "bass",
        "decrease",
        261.63,
        -6.0,
    )
    assert first.text == "Decrease bass: cut about 6 dB around 262 Hz"
    assert (second.band, second.action, second.gain_db) == ("treble", "increase", 6.0)
    assert second.text == "Increase treble: boost about 6 dB around 4.2 kHz"


def test_each_suggestion_undoes_its_operation_in_frequency_order() -> None:
    operations = [
        EqOperation(8000.0, 3.0, 0.5),
        EqOperation(100.0, -4.5, 1.0),
        EqOperation(1000.0, 6.0, 2.0),
    ]
    suggestions = suggest(operations)
    assert [s.frequency_hz for s in suggestions] == [100.0, 1000.0, 8000.0]
    assert [s.gain_db for s in suggestions] == [4.5, -6.0, -3.0]
    assert [s.width_octaves for s in suggestions] == [1.0, 2.0, 0.5]
    assert [s.band for s in suggestions] == ["bass", "mids", "treble"]
    assert suggestions[1].text == "Decrease mids: cut about 6 dB around 1 kHz"


@pytest.mark.parametrize(("amount", "gain_db"), [(100, -6.0), (50, -3.0), (25, -1.5), (10, -0.6)])
def test_amount_scales_the_suggested_gain(amount: float, gain_db: float) -> None:
    (suggestion,) = suggest([EqOperation(261.63, 6.0, 2.0)], amount_percent=amount)
    assert suggestion.gain_db == pytest.approx(gain_db)
    assert suggestion.action == "decrease"


def test_no_operations_and_zero_amount_suggest_nothing() -> None:
    assert suggest([]) == []
    assert suggest([EqOperation(261.63, 6.0, 2.0)], amount_percent=0) == []


@pytest.mark.parametrize("amount", [-1.0, 100.5, float("nan")])
def test_amount_outside_0_to_100_is_refused(amount: float) -> None:
    with pytest.raises(ValueError, match="amount_percent"):
        suggest([EqOperation(261.63, 6.0, 2.0)], amount_percent=amount)


@pytest.mark.parametrize(
    ("operation", "text", "action", "gain_db"),
    [
        (
            EqOperation(120.0, 3.0, type="low_shelf"),
            "Lower the low shelf: about 3 dB below 120 Hz",
            "decrease",
            -3.0,
        ),
        (
            EqOperation(80.0, -4.5, type="low_shelf", slope=1.0),
            "Raise the low shelf: about 4.5 dB below 80 Hz",
            "increase",
            4.5,
        ),
        (
            EqOperation(6000.0, -3.0, type="high_shelf"),
            "Raise the high shelf: about 3 dB above 6 kHz",
            "increase",
            3.0,
        ),
        (
            EqOperation(10_000.0, 2.0, type="high_shelf"),
            "Lower the high shelf: about 2 dB above 10 kHz",
            "decrease",
            -2.0,
        ),
        (
            EqOperation(30.0, 0.0, type="high_pass"),
            "Remove the high-pass at 30 Hz",
            "increase",
            0.0,
        ),
        (
            EqOperation(12_000.0, 0.0, type="low_pass", order=4),
            "Remove the low-pass at 12 kHz",
            "increase",
            0.0,
        ),
        (
            EqOperation(1000.0, -2.0, 1.0),
            "Increase mids: boost about 2 dB around 1 kHz",
            "increase",
            2.0,
        ),
    ],
)
def test_each_type_is_put_in_its_own_words(
    operation: EqOperation, text: str, action: str, gain_db: float
) -> None:
    (suggestion,) = suggest([operation])
    assert suggestion.text == text
    assert (suggestion.type, suggestion.action, suggestion.gain_db) == (
        operation.type,
        action,
        gain_db,
    )
    assert (suggestion.width_octaves is None) == (operation.type != "bell")
    assert (suggestion.slope is None) == ("shelf" not in operation.type)
    assert (suggestion.order is None) == (not operation.is_pass)


def test_a_pass_filter_is_removed_at_any_strength_but_zero() -> None:
    high_pass = EqOperation(40.0, 0.0, type="high_pass", order=4)
    shelf = EqOperation(120.0, 3.0, type="low_shelf")
    (weak_move, weak_shelf) = suggest([high_pass, shelf], amount_percent=10)
    assert weak_move.text == "Remove the high-pass at 40 Hz" and weak_move.order == 4
    assert weak_shelf.gain_db == pytest.approx(-0.3)
    assert suggest([high_pass, shelf], amount_percent=0) == []
