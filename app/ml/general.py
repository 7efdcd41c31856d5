"""The general model: any bells from 30 Hz to 16 kHz, widths 1/2 to 2 octaves.

Recognition in three steps. Greedy pursuit over a dictionary of bell shapes
proposes bells one at a time and records how much each step explains; CatBoost
reads those residuals, the step gains and the band difference and says how
many operations there are; a nonlinear least-squares fit of that many exact
bells then gives each one's frequency, gain and width. With a physics check,
the counts next to CatBoost's are fitted too, and the answer is the count whose
probability and fit agree best. With a count chooser (`app.ml.count_choice`),
those counts are fitted with the type model's set of types and with its closest
calls flipped, and the chooser picks the count and the types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoost, CatBoostClassifier

from app.audio.eq import PASS_ORDERS, EqOperation, EqType
from app.audio.spectrum import Comparison, audible_top_band, hold_bands_from
from app.audio.transfer import coherent_candidate_of
from app.ml.count_choice import (
    COUNT_CHOOSER_FILE,
    SECOND_FLIP_MARGIN,
    ChoiceContext,
    CountCandidate,
    TypeChoice,
    chooser_scores,
    example_rows,
    type_choices,
)
from app.ml.features import (
    CURRENT_SPEC,
    IMPRINT_OCTAVES,
    FeatureSpec,
    band_features,
    imprint_columns,
    option_columns,
    read_candidates,
)
from app.ml.fitting import (
    FEATURE_FLOOR_DB,
    Dictionary,
    PhysicsCheck,
    general_dictionary,
    greedy_pursuit,
    implausibility,
    leveled_residual,
    refine_operations,
)
from app.ml.recognition import (
    TYPES_MODEL_FILE,
    Recognition,
    curve_db,
    has_model,
    load_classifier,
    load_scorer,
)

MAX_OPERATIONS = 5
#: Pursuit steps whose residuals the count model sees (one past the maximum).
PURSUIT_STEPS = MAX_OPERATIONS + 1
#: The operation types a general model recognises: bells only (the first models),
#: or every type (`app.audio.eq.EqType`), as its metadata's ``recognises.types`` says.
BELLS: tuple[EqType, ...] = ("bell",)
ALL_TYPES: tuple[EqType, ...] = ("bell", "low_shelf", "high_shelf", "high_pass", "low_pass")


def dictionary_of(types: tuple[EqType, ...], *, floor_db: float | None = None) -> Dictionary:
    """The pursuit dictionary of a model recognising `types` (read to `floor_db`)."""
    return general_dictionary(types=tuple(types), floor_db=floor_db)


def pursuit_features(band_db: np.ndarray, *, types: tuple[EqType, ...] = BELLS) -> np.ndarray:
    """Residual RMS after 0..6 pursuit steps, the |gain| each step found, then (with more
    types than bells) the type of each step's atom (its index in `ALL_TYPES`, -1 for none)."""
    operations, residuals = greedy_pursuit(
        band_db, count=PURSUIT_STEPS, dictionary=dictionary_of(types, floor_db=FEATURE_FLOOR_DB)
    )
    gains = [abs(op.gain_db) if not op.is_pass else 1.0 for op in operations]
    gains += [0.0] * (PURSUIT_STEPS - len(gains))
    residuals += [residuals[-1]] * (PURSUIT_STEPS + 1 - len(residuals))
    codes: list[float] = []
    if types != BELLS:
        codes = [float(ALL_TYPES.index(op.type)) for op in operations]
        codes += [-1.0] * (PURSUIT_STEPS - len(codes))
    return np.array(residuals + gains + codes, dtype=np.float32)


def example_features(
    reference_magnitudes: np.ndarray,
    candidate_magnitudes: np.ndarray,
    *,
    spec: FeatureSpec = CURRENT_SPEC,
    candidate_lossy: np.ndarray | None = None,
    types: tuple[EqType, ...] = BELLS,
    coherent_magnitudes: np.ndarray | None = None,
) -> np.ndarray:
    """Band features, then the pursuit features, then the spec's options; one row per example.

    The options, as for a grid model (`app.ml.grid.example_features`): the
    reference's band levels, then the lossy flag. With `FeatureSpec.coherent`,
    the band and pursuit features read `coherent_magnitudes` (the candidates
    through the static transfer, `app.audio.transfer`), and `imprint_features`
    of the two candidates follow.
    """
    read = read_candidates(candidate_magnitudes, coherent_magnitudes, spec=spec)
    rows = []
    for ref, cand in zip(reference_magnitudes, read, strict=True):
        bands = band_features(ref, cand, spec=spec)
        pursuit = pursuit_features(bands[: spec.n_bands], types=types)
        rows.append(np.concatenate([bands, pursuit]))
    columns = [np.stack(rows)]
    columns += option_columns(reference_magnitudes, spec=spec, lossy=candidate_lossy)
    columns += imprint_columns(reference_magnitudes, candidate_magnitudes, read, spec=spec)
    return np.hstack(columns).astype(np.float32)


#: Above this, a lossy codec's low-pass shapes a lossy candidate's difference more than
#: EQ can: the general model's bells are centred at 16 kHz at most.
LOSSY_TRUSTED_MAX_HZ = 16_000.0


def trusted_band_db(
    band_db: np.ndarray,
    *,
    candidate_lossy: bool,
    top_band: int | None = None,
    spec: FeatureSpec = CURRENT_SPEC,
) -> np.ndarray:
    """The part of a band difference the fits should explain.

    Parameters
    ----------
    band_db : np.ndarray
        Level-aligned band difference, shape ``(n_bands,)``.
    candidate_lossy : bool
        The candidate was decoded from a lossy format.
    top_band : int, optional
        The band after the highest one where the reference holds audio
        (`app.audio.spectrum.audible_top_band`).

    Returns
    -------
    np.ndarray
        `band_db` with the bands from `top_band` on, and for a lossy candidate
        those above `LOSSY_TRUSTED_MAX_HZ`, holding the last band below them:
        no operation is fitted to a codec's low-pass, nor to the bands where
        neither file holds audio.
    """
    first = spec.n_bands if top_band is None else max(1, top_band)
    if candidate_lossy:
        lossy_first = int(np.searchsorted(spec.spectrum.band_centres_hz, LOSSY_TRUSTED_MAX_HZ))
        first = min(first, lossy_first)
    return band_db if first >= spec.n_bands else hold_bands_from(band_db, first_band=first)


def typed_top_band(types: tuple[EqType, ...], *, top_band: int | None) -> int | None:
    """`top_band` for an answer with shelves or pass filters; None for bells only.

    Shelves and pass filters reach the top of the spectrum, where a reference
    from a lossy source holds no audio, and their fits bent back to 0 dB there
    (on validation sets without the master chain, single high shelves had
    frequency and gain right 81 % of the time, 100 % with the top held). Bells-only
    answers keep reading every band: their physics check, chosen on tuning tracks
    with the top held too, added bells under a compressor or a limiter.
    """
    return None if types == BELLS else top_band


def typed_band_db(
    band_db: np.ndarray,
    *,
    types: tuple[EqType, ...],
    candidate_lossy: bool,
    top_band: int | None,
) -> np.ndarray:
    """The `trusted_band_db` that the fits of an answer of `types` explain.

    Parameters
    ----------
    band_db : np.ndarray
        Level-aligned band difference, shape ``(n_bands,)``.
    types : tuple of EqType
        The answer's types: bells only read every band (`typed_top_band`).
    candidate_lossy : bool
        The candidate was decoded from a lossy format.
    top_band : int, optional
        The reference's `app.audio.spectrum.audible_top_band`, if known.

    Returns
    -------
    np.ndarray
        Shape ``(n_bands,)``, in dB.
    """
    return trusted_band_db(
        band_db.astype(float),
        candidate_lossy=candidate_lossy,
        top_band=typed_top_band(types, top_band=top_band),
    )


#: A fitted bell or shelf weaker than this is not one of the model's operations (they
#: start at 1.5 dB); a pass filter has no gain to weigh.
MIN_GAIN_DB = 1.0


def gains_db(operations: list[EqOperation]) -> np.ndarray:
    """|gain| of the operations that have one (pass filters have none)."""
    return np.array([abs(op.gain_db) for op in operations if not op.is_pass])


def all_credible(operations: list[EqOperation], *, min_gain_db: float = MIN_GAIN_DB) -> bool:
    """Whether no bell or shelf of `operations` is weaker than `min_gain_db`."""
    return bool(np.all(gains_db(operations) >= min_gain_db))


def estimate_operations(
    band_db: np.ndarray,
    *,
    count: int,
    min_gain_db: float = MIN_GAIN_DB,
    types: tuple[EqType, ...] = BELLS,
) -> list[EqOperation]:
    """At most `count` operations fitted to `band_db`: greedy start, then joint refinement.

    When a refined bell or shelf comes out weaker than `min_gain_db`, the fit is
    redone with one operation fewer: the count model erred on the side of too many.
    """
    refined: list[EqOperation] = []
    while count > 0:
        refined, _ = _greedy_fit(band_db, count=count, types=types)
        if all_credible(refined, min_gain_db=min_gain_db):
            break
        count, refined = count - 1, []
    return _rounded(refined)


def count_candidates(
    band_db: np.ndarray, *, counts: range, types: tuple[EqType, ...] = BELLS
) -> list[CountCandidate]:
    """Fit `count` operations for every count in `counts`.

    Parameters
    ----------
    band_db : np.ndarray
        Level-aligned band difference, shape ``(n_bands,)``.
    counts : range
        Operation counts to try.
    types : tuple of EqType
        The operation types the pursuit may propose.

    Returns
    -------
    list[CountCandidate]
        Each fit's `app.ml.fitting.leveled_residual` (a level change costs nothing) and
        the `app.ml.fitting.implausibility` of bells and shelves weaker than
        `MIN_GAIN_DB`.
    """
    dictionary = dictionary_of(types)
    required = _required(types)
    fits = {count: _greedy_fit(band_db, count=count, types=types) for count in counts}
    for count in counts[1:]:
        if count > 1:
            smaller = fits[count - 1][0]
            extra, _ = greedy_pursuit(band_db - curve_db(smaller), count=1, dictionary=dictionary)
            extra = [op for op in extra if op.type == "bell" or op.type not in _types(smaller)]
            refit = _refine(band_db, smaller + extra)
            if covers(refit[0], required=required, count=count):
                fits[count] = min(fits[count], refit, key=lambda fit: fit[1])
    for count in reversed(counts[:-1]):
        if count:
            # The larger fit less its least useful operation: a start that escapes the
            # local minimum a greedy start can leave the smaller fit in.
            start = _without_least_useful(band_db, fits[count + 1][0])
            refit = _refine(band_db, start)
            if covers(refit[0], required=required, count=count):
                fits[count] = min(fits[count], refit, key=lambda fit: fit[1])
    candidates = []
    for count, (operations, _) in fits.items():
        residual = leveled_residual(band_db, curve_db=curve_db(operations))
        weak = implausibility(gains_db(operations), min_gain_db=MIN_GAIN_DB)
        candidates.append(CountCandidate(count, _rounded(operations), residual, weak))
    return candidates


def _types(operations: list[EqOperation]) -> set[str]:
    return {op.type for op in operations}


def covers(operations: list[EqOperation], *, required: tuple[EqType, ...], count: int) -> bool:
    """Whether a fit of `count` operations holds as many of the `required` types as it can.

    The greedy start of a fit holds one operation of each type the type model
    found present (as many as `count` allows); the other starts may not trade
    one for a bell that mimics it (a high-pass for a cut at 20 Hz).

    Examples
    --------
    >>> shelf = EqOperation(150.0, 4.0, type="low_shelf")
    >>> bell = EqOperation(20.0, -6.0, 1.0)
    >>> covers([shelf], required=("low_shelf", "high_pass"), count=1)
    True
    >>> covers([bell], required=("high_pass",), count=1)
    False
    """
    return len(set(required) & _types(operations)) >= min(count, len(set(required)))


def _greedy_fit(
    band_db: np.ndarray, *, count: int, types: tuple[EqType, ...] = BELLS
) -> tuple[list[EqOperation], float]:
    """`count` operations: greedy pursuit, then joint refinement; and their RMS residual (dB).

    With types but bells, the pursuit starts with one operation of each of them
    and, where the count leaves room for more, also ends with them; the better
    refined fit is kept. Placed first, a low shelf took up the boost of a bell
    an octave above it and the refinement could not part them again.
    """
    if not count:
        return _refine(band_db, [])
    required = _required(types)
    dictionary = dictionary_of(types)
    starts = [
        greedy_pursuit(
            band_db,
            count=count,
            dictionary=dictionary,
            required=required,
            required_first=first,
        )[0]
        for first in ((True, False) if required and count > len(required) else (True,))
    ]
    fits = [_refine(band_db, start) for i, start in enumerate(starts) if start not in starts[:i]]
    return min(fits, key=lambda fit: fit[1])


def _required(types: tuple[EqType, ...]) -> tuple[EqType, ...]:
    """The types but bells: a fit for types the type model found present starts with one of each."""
    return tuple(t for t in types if t != "bell")


def _refine(band_db: np.ndarray, start: list[EqOperation]) -> tuple[list[EqOperation], float]:
    """`app.ml.fitting.refine_operations` over the general model's range, 20 Hz to 20 kHz,
    each pass filter refined at each of `PASS_ORDERS`, the better fit kept.

    The refinement keeps an order, and the greedy start takes the order whose
    atom fits first: a 12 dB/octave high-pass came back as a 24 dB/octave one
    half an octave lower, whose skirt looks alike above 20 Hz.
    """

    def refine(operations: list[EqOperation]) -> tuple[list[EqOperation], float]:
        return refine_operations(band_db, operations, min_hz=20.0, max_hz=20_000.0)

    fit = refine(start)
    for index, op in enumerate(fit[0]):
        for order in PASS_ORDERS if op.is_pass else ():
            if order != fit[0][index].order:
                other = refine([*fit[0][:index], replace(op, order=order), *fit[0][index + 1 :]])
                fit = min(fit, other, key=lambda candidate: candidate[1])
    return fit


def _without_least_useful(band_db: np.ndarray, operations: list[EqOperation]) -> list[EqOperation]:
    """`operations` less the one whose removal leaves the smallest residual."""

    def spread(index: int) -> float:
        rest = operations[:index] + operations[index + 1 :]
        return float(np.sqrt(np.mean(leveled_residual(band_db, curve_db=curve_db(rest)) ** 2)))

    drop = min(range(len(operations)), key=spread)
    return operations[:drop] + operations[drop + 1 :]


#: How far from CatBoost's most likely count the fits reach. One either side left the
#: true count out of reach in 5.2 % of the validation mixtures without the chain and 7.2 %
#: through it (`ops/count_compare.py`); two leave 0.1 and 0.5 %. On every second validation
#: example, 4 chooser seeds (`ops/chooser_study.py --every 2 --seeds 4`): count over all
#: 83.06 -> 84.76 %, mixtures' count 76.24 -> 78.71 %, their types 62.22 -> 64.70 %.
NEARBY_COUNTS_REACH = 2


def nearby_counts(count_probabilities: np.ndarray, *, reach: int = NEARBY_COUNTS_REACH) -> range:
    """CatBoost's most likely count and the `reach` counts either side of it."""
    count = int(np.argmax(count_probabilities))
    return range(max(0, count - reach), min(MAX_OPERATIONS, count + reach) + 1)


def recognise_operations(
    band_db: np.ndarray,
    *,
    count_probabilities: np.ndarray,
    check: PhysicsCheck,
    types: tuple[EqType, ...] = BELLS,
    reach: int = NEARBY_COUNTS_REACH,
) -> list[EqOperation]:
    """The operations of one example: CatBoost's count, checked against the fit when weighted.

    Parameters
    ----------
    band_db : np.ndarray
        Level-aligned band difference.
    count_probabilities : np.ndarray
        CatBoost's probability of 0..`MAX_OPERATIONS` operations.
    check : PhysicsCheck
        Weight 0: fit CatBoost's most likely count (`estimate_operations`).
        Otherwise fit the counts next to it too (`nearby_counts`) and keep the
        candidate of the best `CountCandidate.score`.
    types : tuple of EqType
        The operation types the model recognises.
    reach : int
        How many counts either side of CatBoost's the check weighs (`nearby_counts`).
    """
    if check.weight <= 0:
        return estimate_operations(band_db, count=int(np.argmax(count_probabilities)), types=types)
    candidates = checked_candidates(
        band_db, count_probabilities=count_probabilities, types=types, reach=reach
    )
    return best_candidate(
        candidates, count_probabilities=count_probabilities, check=check
    ).operations


def chosen_operations(
    options: Sequence[tuple[np.ndarray, ChoiceContext]],
    *,
    count_probabilities: np.ndarray,
    chooser: CatBoost,
    reach: int = NEARBY_COUNTS_REACH,
) -> list[EqOperation]:
    """The operations the count chooser picks among the fits of every set of types.

    Parameters
    ----------
    options : sequence of (np.ndarray, ChoiceContext)
        Per set of types (`app.ml.count_choice.type_choices`): the band difference
        as `trusted_band_db` reads it for those types, and the chooser's context,
        whose ``type_choice.types`` the fits are made of.
    count_probabilities : np.ndarray
        CatBoost's probability of 0..`MAX_OPERATIONS` operations.
    chooser : CatBoost
        The count chooser (`app.ml.count_choice.fit_chooser`).
    reach : int
        How many counts either side of CatBoost's are fitted (`nearby_counts`).
    """
    sets = [
        (
            checked_candidates(
                band_db,
                count_probabilities=count_probabilities,
                types=context.type_choice.types,
                reach=reach,
            ),
            context,
        )
        for band_db, context in options
    ]
    rows = example_rows(sets, count_probabilities=count_probabilities)
    candidates = [candidate for found, _ in sets for candidate in found]
    return candidates[int(np.argmax(chooser_scores(chooser, [rows])))].operations


def checked_candidates(
    band_db: np.ndarray,
    *,
    count_probabilities: np.ndarray,
    types: tuple[EqType, ...] = BELLS,
    reach: int = NEARBY_COUNTS_REACH,
) -> list[CountCandidate]:
    """The fits the physics check weighs: `nearby_counts` within `reach`, and the smaller
    counts where every one of those holds an operation weaker than `MIN_GAIN_DB`.

    CatBoost can overcount (an MP3 of two bells read as four or five): the fits of
    the counts it names then hold bells of a few tenths of a dB, none of the
    model's operations.
    """
    counts = nearby_counts(count_probabilities, reach=reach)
    candidates = count_candidates(band_db, counts=counts, types=types)
    if counts.start and not any(all_credible(c.operations) for c in candidates):
        candidates += count_candidates(band_db, counts=range(counts.start), types=types)
    return candidates


def best_candidate(
    candidates: list[CountCandidate], *, count_probabilities: np.ndarray, check: PhysicsCheck
) -> CountCandidate:
    """The candidate of the best `CountCandidate.score` among the plausible ones.

    A candidate holding a bell or shelf weaker than `MIN_GAIN_DB` is none of the
    model's operations (they start at 1.5 dB); it is kept only where every
    candidate holds one. A tight robust-loss scale otherwise let a +0.1 dB bell
    four octaves wide explain an MP3's noise.
    """
    plausible = [c for c in candidates if all_credible(c.operations)]
    return max(
        plausible or candidates,
        key=lambda c: c.score(count_probabilities=count_probabilities, check=check),
    )


def _rounded(operations: list[EqOperation]) -> list[EqOperation]:
    return sorted(
        (
            replace(
                op,
                frequency_hz=round(op.frequency_hz, 1),
                gain_db=0.0 if op.is_pass else round(op.gain_db, 1),
                width_octaves=round(op.width_octaves, 2),
                slope=round(op.slope, 2),
            )
            for op in operations
        ),
        key=lambda op: op.frequency_hz,
    )


@dataclass
class GeneralModel:
    """A trained general model."""

    id: str
    metadata: dict[str, Any]
    classifier: CatBoostClassifier
    physics: PhysicsCheck = PhysicsCheck()
    spec: FeatureSpec = CURRENT_SPEC
    types: tuple[EqType, ...] = BELLS
    #: The physics check of answers with more types than bells (`check_for`).
    typed_physics: PhysicsCheck = PhysicsCheck()
    #: Which types but bells are present (`TYPED`, multi-label); None for bells only.
    type_classifier: CatBoostClassifier | None = None
    #: Picks the count among the nearby fits (`app.ml.count_choice`); None: the physics check.
    count_chooser: CatBoost | None = None
    #: How many counts either side of CatBoost's the search fits (`nearby_counts`).
    counts_reach: int = NEARBY_COUNTS_REACH
    #: Where the type model's second closest call lies within this of its threshold, the
    #: chooser also weighs it flipped (`app.ml.count_choice.type_choices`).
    second_flip_margin: float = SECOND_FLIP_MARGIN

    @classmethod
    def load(cls, folder: Path, metadata: dict[str, Any]) -> GeneralModel:
        """Load the count model, the type model and the count chooser where there are
        ones, and the physics checks."""
        classifier = load_classifier(folder)
        types = types_of(metadata)
        type_classifier = None
        if types != BELLS:
            type_classifier = load_classifier(folder, name=TYPES_MODEL_FILE)
        count_chooser = None
        if has_model(folder, name=COUNT_CHOOSER_FILE):
            count_chooser = load_scorer(folder, name=COUNT_CHOOSER_FILE)
        return cls(
            id=str(metadata["id"]),
            metadata=metadata,
            classifier=classifier,
            physics=PhysicsCheck.from_dict(metadata.get("decode")),
            spec=FeatureSpec.from_dict(metadata["feature_spec"]),
            types=types,
            typed_physics=PhysicsCheck.from_dict(metadata.get("decode_typed")),
            type_classifier=type_classifier,
            count_chooser=count_chooser,
        )

    def count_probabilities(self, features: np.ndarray) -> np.ndarray:
        """Probability of 0..5 operations for each example."""
        return np.asarray(self.classifier.predict_proba(features))

    def present_types(self, features: np.ndarray) -> list[tuple[EqType, ...]]:
        """The types each example's answer is made of (`classified_types`)."""
        return classified_types(self.type_classifier, features, types=self.types)

    def type_choices(self, features: np.ndarray) -> list[list[TypeChoice]]:
        """The sets of types the count chooser weighs for each example."""
        return classified_type_choices(
            self.type_classifier,
            features,
            types=self.types,
            second_flip_margin=self.second_flip_margin,
        )

    def features(self, comparison: Comparison) -> np.ndarray:
        """The model's `example_features` of one pair, one row."""
        coherent = (
            coherent_candidate_of(comparison, demodulate=self.spec.demodulated)
            if self.spec.coherent
            else None
        )
        return example_features(
            comparison.reference_magnitude[np.newaxis],
            comparison.candidate_magnitude[np.newaxis],
            spec=self.spec,
            candidate_lossy=np.array([comparison.candidate_lossy]),
            types=self.types,
            coherent_magnitudes=None if coherent is None else coherent[np.newaxis],
        )

    def recognise(self, comparison: Comparison) -> Recognition:
        """Recognise up to five operations anywhere in the spectrum."""
        features = self.features(comparison)
        probabilities = self.count_probabilities(features)[0]
        top_band = audible_top_band(comparison.reference_magnitude, spec=self.spec.spectrum)

        def band_db_for(types: tuple[EqType, ...]) -> np.ndarray:
            return typed_band_db(
                features[0, : CURRENT_SPEC.n_bands],
                types=types,
                candidate_lossy=comparison.candidate_lossy,
                top_band=top_band,
            )

        if self.count_chooser is None:
            types = self.present_types(features)[0]
            operations = recognise_operations(
                band_db_for(types),
                count_probabilities=probabilities,
                check=check_for(types, check=self.physics, typed_check=self.typed_physics),
                types=types,
                reach=self.counts_reach,
            )
        else:
            options = [
                (
                    band_db_for(choice.types),
                    choice_context(
                        features[0],
                        spec=self.spec,
                        choice=choice,
                        candidate_lossy=comparison.candidate_lossy,
                    ),
                )
                for choice in self.type_choices(features)[0]
            ]
            operations = chosen_operations(
                options,
                count_probabilities=probabilities,
                chooser=self.count_chooser,
                reach=self.counts_reach,
            )
        count = len(operations)
        curve = curve_db(operations)
        return Recognition(
            model_id=self.id,
            operations=operations,
            curve_db=curve,
            confidence=[float(probabilities[count])] * len(operations),
            read_difference_db=features[0, : CURRENT_SPEC.n_bands].astype(float)
            if self.spec.coherent
            else None,
        )


def choice_context(
    features: np.ndarray, *, spec: FeatureSpec, choice: TypeChoice, candidate_lossy: bool
) -> ChoiceContext:
    """The count chooser's context of one example and set of types, from its
    `example_features` row."""
    return ChoiceContext(
        type_choice=choice,
        candidate_lossy=candidate_lossy,
        imprint_db=tuple(
            float(x) if spec.coherent else 0.0 for x in features[-(IMPRINT_OCTAVES + 1) :]
        ),
    )


#: The types the type model tells present or absent, in its label order.
TYPED: tuple[EqType, ...] = ALL_TYPES[1:]
#: A type is present where the type model's probability is above this.
PRESENT_PROBABILITY = 0.5


def present_types(type_probabilities: np.ndarray) -> list[tuple[EqType, ...]]:
    """Bells and the types the type model finds present, for each row of its probabilities.

    Parameters
    ----------
    type_probabilities : np.ndarray
        Shape ``(n, len(TYPED))``: each type's probability of being present.

    Returns
    -------
    list of tuple of EqType
        Per example: ``"bell"`` and every type above `PRESENT_PROBABILITY`.
        The fits then start with one operation of each of those
        (`app.ml.fitting.greedy_pursuit`'s ``required``).
    """
    return [choices[0].types for choices in type_choices_of(type_probabilities)]


def type_choices_of(
    type_probabilities: np.ndarray, *, second_flip_margin: float = SECOND_FLIP_MARGIN
) -> list[list[TypeChoice]]:
    """`app.ml.count_choice.type_choices` of each row of the type model's probabilities:
    the sets of types the count chooser weighs."""
    return [
        type_choices(
            row,
            typed=TYPED,
            threshold=PRESENT_PROBABILITY,
            second_flip_margin=second_flip_margin,
        )
        for row in np.atleast_2d(type_probabilities)
    ]


def classified_types(
    type_classifier: CatBoostClassifier | None,
    features: np.ndarray,
    *,
    types: tuple[EqType, ...] = BELLS,
) -> list[tuple[EqType, ...]]:
    """`present_types` as the type model finds them; `types` for every example without one."""
    if type_classifier is None:
        return [types] * len(features)
    return present_types(type_probabilities(type_classifier, features))


def classified_type_choices(
    type_classifier: CatBoostClassifier | None,
    features: np.ndarray,
    *,
    types: tuple[EqType, ...] = BELLS,
    second_flip_margin: float = SECOND_FLIP_MARGIN,
) -> list[list[TypeChoice]]:
    """`type_choices_of` the type model's probabilities; `types` alone without one."""
    if type_classifier is None:
        return [[TypeChoice(types=types)]] * len(features)
    return type_choices_of(
        type_probabilities(type_classifier, features), second_flip_margin=second_flip_margin
    )


def type_probabilities(type_classifier: CatBoostClassifier, features: np.ndarray) -> np.ndarray:
    """Each type's probability of being present, ``(n, len(TYPED))``."""
    return np.asarray(type_classifier.predict_proba(features.astype(np.float32)))


def check_for(
    types: tuple[EqType, ...], *, check: PhysicsCheck, typed_check: PhysicsCheck
) -> PhysicsCheck:
    """The physics check of an answer of `types`: `check` for bells only, else `typed_check`.

    The two are chosen apart on tuning tracks (`app.training.evaluate.choose_general_check`):
    a price per bell that suits bells-only sets can make a fit with a shelf or a
    pass filter add or drop operations.

    Examples
    --------
    >>> from app.ml.fitting import PhysicsCheck
    >>> bells, typed = PhysicsCheck(weight=0.3), PhysicsCheck()
    >>> check_for(("bell",), check=bells, typed_check=typed) is bells
    True
    >>> check_for(("bell", "high_pass"), check=bells, typed_check=typed) is typed
    True
    """
    return check if types == BELLS else typed_check


def types_of(metadata: dict[str, Any]) -> tuple[EqType, ...]:
    """The operation types a general model's metadata says it recognises (bells if unsaid)."""
    named = metadata.get("recognises", {}).get("types", list(BELLS))
    return tuple(t for t in ALL_TYPES if t in named)
