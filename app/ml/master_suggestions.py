"""Whole-master suggestions: loudness, true peak, dynamics and stereo width.

Each rule compares the candidate's measure with the reference's and speaks
only where they differ enough to matter, so the same file gets no
suggestion and a pure change of level gets only a loudness one:

- loudness: integrated loudness 1 LU or more apart; a candidate true peak
  above -1 dBTP (higher than the reference's);
- dynamics: the candidate 2 dB or more harder or softer limited and
  compressed (the drop of median PSR);
- stereo: an octave band whose width is 2 dB or more apart; a band with energy
  whose channels are anti-correlated in the candidate and not in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.audio.dynamics import limiting_difference_db
from app.audio.measures import MasterMeasures
from app.audio.stereo import OCTAVE_CENTRES_HZ, Stereo
from app.ml.suggestions import Action, Band, Kind, band_of, format_frequency, format_gain

#: Integrated loudness difference worth a word, LU.
LOUDNESS_STEP_LU = 1.0
#: Highest true peak that survives lossy encoding and sample-rate conversion, dBTP.
TRUE_PEAK_CEILING_DBTP = -1.0
#: A candidate true peak this close to the reference's agrees with it, dB.
TRUE_PEAK_AGREEMENT_DB = 0.1
#: Limiting difference worth a word, dB.
DYNAMICS_STEP_DB = 2.0
#: Width difference of a band worth a word, dB.
WIDTH_STEP_DB = 2.0


@dataclass(frozen=True, kw_only=True)
class MasterSuggestion:
    """A whole-master move, in words.

    Parameters
    ----------
    kind : {"loudness", "dynamics", "stereo"}
        What it is about.
    action : {"increase", "decrease"}
        Louder, more limited, wider (increase) or the opposite.
    gain_db : float
        Loudness: the gain to apply; dynamics: how much more (positive) or less
        limiting; stereo: the width change of the band.
    text : str
        The move in words.
    band, frequency_hz : optional
        The octave band of a stereo move.
    """

    kind: Kind
    action: Action
    gain_db: float
    text: str
    band: Band | None = None
    frequency_hz: float | None = None


def limiting_summary(limiting_db: float) -> str:
    """The limiting estimate in words.

    Examples
    --------
    >>> limiting_summary(4.26)
    'The candidate is limited and compressed about 4.5 dB harder than the reference.'
    >>> limiting_summary(-0.4)
    'The candidate is limited and compressed about as hard as the reference (0.4 dB softer).'
    """
    size = format_gain(limiting_db)
    direction = "harder" if limiting_db > 0 else "softer"
    if abs(limiting_db) < DYNAMICS_STEP_DB:
        return (
            "The candidate is limited and compressed about as hard as the reference "
            f"({size} {direction})."
        )
    return f"The candidate is limited and compressed about {size} {direction} than the reference."


def loudness_suggestions(
    reference: MasterMeasures, candidate: MasterMeasures, *, target_lufs: float
) -> list[MasterSuggestion]:
    """Integrated loudness and true peak moves."""
    moves = []
    ref, cand = reference.loudness, candidate.loudness
    difference = cand.integrated_lufs - ref.integrated_lufs
    if abs(difference) >= LOUDNESS_STEP_LU:
        louder = difference > 0
        text = (
            f"Turn the master {'down' if louder else 'up'} about {format_gain(difference)}: it is "
            f"{format_gain(difference).replace('dB', 'LU')} {'louder' if louder else 'quieter'} "
            f"than the reference ({cand.integrated_lufs:.1f} against "
            f"{ref.integrated_lufs:.1f} LUFS integrated)."
        )
        if louder and cand.integrated_lufs > target_lufs:
            text += (
                f" A player normalising to {target_lufs:g} LUFS turns it down "
                f"{format_gain(target_lufs - cand.integrated_lufs)} anyway, so the extra "
                "loudness only costs dynamics."
            )
        moves.append(
            MasterSuggestion(
                kind="loudness",
                action="decrease" if louder else "increase",
                gain_db=-difference,
                text=text,
            )
        )
    over = cand.true_peak_dbtp > TRUE_PEAK_CEILING_DBTP
    if over and cand.true_peak_dbtp > ref.true_peak_dbtp + TRUE_PEAK_AGREEMENT_DB:
        excess = cand.true_peak_dbtp - TRUE_PEAK_CEILING_DBTP
        overs = (
            " (inter-sample overs)" if cand.true_peak_dbtp > cand.sample_peak_dbfs + 0.05 else ""
        )
        moves.append(
            MasterSuggestion(
                kind="loudness",
                action="decrease",
                gain_db=-excess,
                text=(
                    f"Lower the limiter's ceiling about {format_gain(excess)}: the true peak "
                    f"reaches {cand.true_peak_dbtp:+.1f} dBTP{overs}; keep it at or below "
                    f"{TRUE_PEAK_CEILING_DBTP:g} dBTP, with a true-peak limiter."
                ),
            )
        )
    return moves


def dynamics_suggestions(
    reference: MasterMeasures, candidate: MasterMeasures
) -> list[MasterSuggestion]:
    """A move when the candidate is limited and compressed 2 dB harder or softer."""
    limiting = limiting_difference_db(reference=reference.dynamics, candidate=candidate.dynamics)
    if abs(limiting) < DYNAMICS_STEP_DB:
        return []
    harder = limiting > 0
    ref_psr, cand_psr = reference.dynamics.psr.median_db, candidate.dynamics.psr.median_db
    advice = "Limit and compress less" if harder else "Limit or compress more"
    return [
        MasterSuggestion(
            kind="dynamics",
            action="decrease" if harder else "increase",
            gain_db=-limiting,
            text=(
                f"{advice}: {limiting_summary(limiting)[0].lower()}"
                f"{limiting_summary(limiting)[1:-1]} (median PSR {cand_psr:.1f} dB against "
                f"{ref_psr:.1f} dB)."
            ),
        )
    ]


def stereo_suggestions(
    reference: Stereo | None, candidate: Stereo | None
) -> list[MasterSuggestion]:
    """Width moves per octave band and mono-compatibility warnings."""
    if reference is None or candidate is None:
        return []
    moves = []
    for nominal, ref, cand in zip(OCTAVE_CENTRES_HZ, reference.bands, candidate.bands, strict=True):
        if not (ref.has_energy or cand.has_energy):
            continue
        where = format_frequency(nominal)
        change = ref.width_db - cand.width_db
        if abs(change) >= WIDTH_STEP_DB:
            wider = change < 0
            moves.append(
                MasterSuggestion(
                    kind="stereo",
                    action="decrease" if wider else "increase",
                    gain_db=change,
                    band=band_of(nominal),
                    frequency_hz=float(nominal),
                    text=(
                        f"{'Narrow' if wider else 'Widen'} the stereo image around {where} by "
                        f"about {format_gain(change)} (side against mid {cand.width_db:.1f} dB, "
                        f"the reference {ref.width_db:.1f} dB)."
                    ),
                )
            )
        if cand.mono_problem and not ref.mono_problem:
            moves.append(
                MasterSuggestion(
                    kind="stereo",
                    action="decrease",
                    gain_db=0.0,
                    band=band_of(nominal),
                    frequency_hz=float(nominal),
                    text=(
                        f"Check mono compatibility around {where}: left and right are "
                        f"anti-correlated there (correlation {cand.correlation:.2f}), so it "
                        "cancels when played in mono."
                    ),
                )
            )
    return moves


def master_suggestions(
    reference: MasterMeasures, candidate: MasterMeasures, *, target_lufs: float
) -> list[MasterSuggestion]:
    """Every whole-master suggestion: loudness, then dynamics, then stereo."""
    return [
        *loudness_suggestions(reference, candidate, target_lufs=target_lufs),
        *dynamics_suggestions(reference, candidate),
        *stereo_suggestions(reference.stereo, candidate.stereo),
    ]
