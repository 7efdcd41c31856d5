"""Rate a candidate master against the reference: decode, compare, recognise, suggest.

Plain stages with no web framework in them, so the API, the web page and the
command line all give the same answer. `AnalysisPool` bounds how many analyses
run at once and how many may wait; past that, callers are told to retry.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from app.audio.dynamics import limiting_difference_db
from app.audio.errors import AudioError, AudioErrorCode
from app.audio.io import AudioHeader, DecodedAudio, Source, check_header, load_audio, read_header
from app.audio.loudness import SHORT_TERM_S, SUB_BLOCK_S, Loudness
from app.audio.measures import MasterMeasures, measure_master
from app.audio.spectrum import Comparison, SpectrumSpec, band_levels_db, compare, distance_db
from app.errors import ServiceError
from app.ml.features import CURRENT_SPEC
from app.ml.master_suggestions import limiting_summary, master_suggestions
from app.ml.registry import ModelRegistry, RecognitionModel
from app.ml.suggestions import band_of, suggest
from app.rating.schemas import (
    Alignment,
    DynamicsBand,
    DynamicsComparison,
    FileInfo,
    FileLoudness,
    LoudnessComparison,
    Operation,
    PsrDistribution,
    RateResponse,
    Spectra,
    StereoBand,
    StereoComparison,
    SuggestionOut,
    Timings,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The two files compared must share at least this much audio, seconds.
MIN_OVERLAP_S = 5.0
#: Most samples (frames x channels) one upload may make the server decode:
#: 15 min of 192 kHz stereo. Bounds the CPU an anonymous upload can cost.
MAX_DECODE_SAMPLES = 15 * 60 * 192_000 * 2


class RatingError(ServiceError, ValueError):
    """A request that cannot be rated, with the HTTP status and a sentence for the user."""

    def __init__(self, message: str, *, http_status: int = 422) -> None:
        super().__init__(message, status_code=http_status)


@dataclass(frozen=True, kw_only=True)
class Upload:
    """Where an uploaded file lies, with what is known about it before decoding."""

    source: Source
    filename: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None


def resolve_model(registry: ModelRegistry, model_id: str | None) -> RecognitionModel:
    """Return the model `model_id` (the default when empty) or refuse with a sentence."""
    try:
        return registry.get(model_id or None)
    except KeyError:
        raise RatingError(
            f"Unknown model {model_id!r}; choose one of {', '.join(registry.ids)} "
            "(see GET /models)."
        ) from None


def parse_amount(value: str | float | None) -> float:
    """Read the suggestion strength, percent; empty means 100."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 100.0
    try:
        amount = float(value)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or not 0.0 <= amount <= 100.0:
        raise RatingError(f"amount must be a number from 0 to 100 (percent); got {str(value)!r}.")
    return amount


def check_upload_header(upload: Upload, *, name: str) -> AudioHeader:
    """Read and check one upload's header, and bound what decoding it would cost.

    Raises `AudioError` (naming `name` and the limit) before any audio is decoded.
    """
    header = read_header(upload.source, name=name)
    check_header(header, name=name)
    samples = (header.frames or 0) * header.channels
    if samples > MAX_DECODE_SAMPLES:
        raise AudioError(
            AudioErrorCode.TOO_LARGE,
            f"{name}: {(header.frames or 0) / header.sample_rate_hz / 60:.1f} min at "
            f"{header.sample_rate_hz} Hz with {header.channels} channels is "
            f"{samples / 1e6:.0f} million samples to decode; the limit is "
            f"{MAX_DECODE_SAMPLES / 1e6:.0f} million (15 min of 192 kHz stereo).",
        )
    return header


def check_headers(*, reference: Upload, candidate: Upload) -> None:
    """Check both uploads' headers before decoding either (`check_upload_header`)."""
    check_upload_header(reference, name="reference")
    check_upload_header(candidate, name="candidate")


def decode(upload: Upload, *, name: str) -> DecodedAudio:
    """Check and decode one upload at the analysis rate; `AudioError` names it `name`."""
    return load_audio(upload.source, name=name, sample_rate_hz=CURRENT_SPEC.sample_rate_hz)


def rate(
    *,
    reference: Upload,
    candidate: Upload,
    model: RecognitionModel,
    amount_percent: float = 100.0,
    loudness_target_lufs: float = -14.0,
    measure: bool = True,
) -> RateResponse:
    """Rate the candidate master against the reference with one model.

    Parameters
    ----------
    reference, candidate : Upload
        The professional master and the trainee's master.
    model : RecognitionModel
        Recognises the EQ operations separating them.
    amount_percent : float
        Strength of the suggestions, 0 to 100.
    loudness_target_lufs : float
        Normalisation target of the loudness comparison's normalised gains.
    measure : bool
        Measure loudness, dynamics and stereo of both files (the benchmark
        turns it off to time the EQ comparison alone).

    Returns
    -------
    RateResponse
        The rating, operations, suggestions, spectra, alignment and timings.

    Raises
    ------
    AudioError
        When either file cannot be used; the sentence names it.
    RatingError
        When the two files cannot be compared.
    """
    spec = CURRENT_SPEC.spectrum
    started = time.perf_counter()
    # Both headers first: a bad candidate is refused before the reference costs a decode.
    check_headers(reference=reference, candidate=candidate)
    # Each file's whole-master measures start once it is decoded and run beside
    # the next decode and the EQ comparison (numpy and scipy release the GIL),
    # so /rate waits only for what is left of them after those.
    pending: list[Future[MasterMeasures]] = []
    ref_audio = decode(reference, name="reference")
    if measure:
        pending.append(_MEASURE_WORKERS.submit(measure_audio, ref_audio))
    cand_audio = decode(candidate, name="candidate")
    if measure:
        pending.append(_MEASURE_WORKERS.submit(measure_audio, cand_audio))
    decoded = time.perf_counter()
    comparison = compare_masters(
        ref_audio.samples, cand_audio.samples, spec=spec, candidate_lossy=cand_audio.header.lossy
    )
    compared = time.perf_counter()
    recognition = model.recognise(comparison).seen_below(comparison.band_limit_hz)
    recognised = time.perf_counter()
    measures = (pending[0].result(), pending[1].result()) if pending else None
    measured = time.perf_counter()

    confidences: list[float | None] = [*recognition.confidence]
    confidences += [None] * (len(recognition.operations) - len(confidences))
    operations = [
        Operation(
            frequency_hz=round(op.frequency_hz, 2),
            gain_db=round(op.gain_db, 2),
            width_octaves=round(op.width_octaves, 3) if op.type == "bell" else None,
            band=band_of(op.frequency_hz),
            confidence=None if conf is None else round(float(conf), 3),
            type=op.type,
            slope=round(op.slope, 3) if op.type in ("low_shelf", "high_shelf") else None,
            order=op.order if op.is_pass else None,
        )
        for op, conf in zip(recognition.operations, confidences, strict=False)
    ]
    suggestions = [
        SuggestionOut(
            band=s.band,
            action=s.action,
            frequency_hz=round(s.frequency_hz, 2),
            gain_db=round(s.gain_db, 2),
            width_octaves=None if s.width_octaves is None else round(s.width_octaves, 3),
            text=s.text,
            type=s.type,
            slope=None if s.slope is None else round(s.slope, 3),
            order=s.order,
        )
        for s in suggest(recognition.operations, amount_percent=amount_percent)
    ]
    whole = (
        None if measures is None else compared_measures(*measures, target_lufs=loudness_target_lufs)
    )
    if measures is not None:
        suggestions += [
            SuggestionOut(
                kind=s.kind,
                band=s.band,
                action=s.action,
                frequency_hz=s.frequency_hz,
                gain_db=round(s.gain_db, 2),
                width_octaves=None,
                text=s.text,
                type=None,
            )
            for s in master_suggestions(*measures, target_lufs=loudness_target_lufs)
        ]
    return RateResponse(
        rating=len(operations),
        distance_db=round(distance_db(comparison), 2),
        model=recognition.model_id or model.id,
        amount=amount_percent,
        operations=operations,
        suggestions=suggestions,
        spectra=spectra(
            comparison,
            curve_db=recognition.curve_db,
            eq_difference_db=recognition.read_difference_db,
        ),
        alignment=Alignment(
            offset_s=round(comparison.offset_s, 4),
            overlap_s=round(comparison.overlap_s, 3),
            level_offset_db=round(comparison.level_offset_db, 2),
            band_limit_hz=_maybe_rounded(comparison.band_limit_hz),
            band_limited_file=comparison.band_limited_file,
            reference_top_hz=_maybe_rounded(comparison.reference_top_hz),
        ),
        files={
            "reference": _file_info(reference, ref_audio),
            "candidate": _file_info(candidate, cand_audio),
        },
        timings=Timings(
            decode_s=round(decoded - started, 4),
            compare_s=round(compared - decoded, 4),
            recognise_s=round(recognised - compared, 4),
            measure_s=round(measured - recognised, 4),
            analysis_s=round(measured - started, 4),
        ),
        loudness=whole[0] if whole else None,
        dynamics=whole[1] if whole else None,
        stereo=whole[2] if whole else None,
    )


#: Threads measuring loudness, dynamics and stereo beside the EQ comparisons:
#: one core fewer than the machine has, so that an analysis's own thread keeps
#: a core while its two files are measured (on 2 cores, one after the other).
_MEASURE_WORKERS = ThreadPoolExecutor(
    max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="master-measures"
)


def one_blas_thread_per_caller() -> None:
    """Hold BLAS to one thread in this process, for a process that rates (server, CLI).

    The analysis pool and the measure threads already keep every core busy,
    and OpenBLAS's own threads would spin against them (its small products
    here gain nothing from them). The setting is process-wide, so it is made
    where rating starts, not on import: the training commands import this
    module too and keep their BLAS threads.
    """
    threadpool_limits(limits=1, user_api="blas")


def measure_audio(audio: DecodedAudio) -> MasterMeasures:
    """Loudness, dynamics and stereo of one decoded file."""
    return measure_master(audio.channel_samples, sample_rate_hz=audio.sample_rate_hz)


#: Step of the short-term loudness series in the answer, seconds.
SHORT_TERM_STEP_S = 0.5
#: Levels in the answer are floored here (digital silence reads -inf), dB.
FLOOR_DB = -150.0


def _level(value: float) -> float:
    return round(max(float(value), FLOOR_DB), 2)


def file_loudness(loudness: Loudness, *, target_lufs: float) -> FileLoudness:
    """One file's loudness as the answer gives it."""
    gain = (
        target_lufs - loudness.integrated_lufs if math.isfinite(loudness.integrated_lufs) else 0.0
    )
    every = max(1, round(SHORT_TERM_STEP_S / SUB_BLOCK_S))
    series = loudness.short_term_lufs[::every]
    return FileLoudness(
        integrated_lufs=_level(loudness.integrated_lufs),
        momentary_max_lufs=_level(loudness.momentary_max_lufs),
        short_term_max_lufs=_level(loudness.short_term_max_lufs),
        loudness_range_lu=round(loudness.loudness_range_lu, 2),
        sample_peak_dbfs=_level(loudness.sample_peak_dbfs),
        true_peak_dbtp=_level(loudness.true_peak_dbtp),
        plr_db=round(loudness.plr_db, 2) if math.isfinite(loudness.plr_db) else 0.0,
        normalised_gain_db=round(gain, 2),
        normalised_true_peak_dbtp=_level(loudness.true_peak_dbtp + gain),
        short_term_lufs=[round(float(v), 2) if v > -70 else None for v in series],
        short_term_start_s=SHORT_TERM_S,
        short_term_step_s=every * SUB_BLOCK_S,
    )


def compared_measures(
    reference: MasterMeasures, candidate: MasterMeasures, *, target_lufs: float
) -> tuple[LoudnessComparison, DynamicsComparison, StereoComparison | None]:
    """The `loudness`, `dynamics` and `stereo` fields of the answer."""
    limiting = limiting_difference_db(reference=reference.dynamics, candidate=candidate.dynamics)
    ref_l, cand_l = reference.loudness, candidate.loudness
    loudness = LoudnessComparison(
        reference=file_loudness(ref_l, target_lufs=target_lufs),
        candidate=file_loudness(cand_l, target_lufs=target_lufs),
        target_lufs=target_lufs,
        difference_lu=_level(cand_l.integrated_lufs - ref_l.integrated_lufs)
        if math.isfinite(cand_l.integrated_lufs - ref_l.integrated_lufs)
        else 0.0,
    )
    dynamics = DynamicsComparison(
        bands=[
            DynamicsBand(
                low_hz=round(ref.low_hz, 1),
                high_hz=round(ref.high_hz, 1),
                reference_crest_db=round(ref.crest_db, 2),
                candidate_crest_db=round(cand.crest_db, 2),
            )
            for ref, cand in zip(reference.dynamics.bands, candidate.dynamics.bands, strict=True)
        ],
        reference_psr=_psr(reference),
        candidate_psr=_psr(candidate),
        limiting_db=round(limiting, 2),
        summary=limiting_summary(limiting),
    )
    if reference.stereo is None or candidate.stereo is None:
        return loudness, dynamics, None
    stereo = StereoComparison(
        reference_correlation=round(reference.stereo.correlation, 3),
        candidate_correlation=round(candidate.stereo.correlation, 3),
        bands=[
            StereoBand(
                low_hz=round(ref.low_hz, 1),
                high_hz=round(ref.high_hz, 1),
                reference_width_db=round(ref.width_db, 2),
                candidate_width_db=round(cand.width_db, 2),
                reference_correlation=round(ref.correlation, 3),
                candidate_correlation=round(cand.correlation, 3),
            )
            for ref, cand in zip(reference.stereo.bands, candidate.stereo.bands, strict=True)
        ],
        mono_warnings=[
            f"{name} around {round(band.low_hz * 2**0.5)} Hz: correlation {band.correlation:.2f}"
            for name, image in (
                ("reference", reference.stereo),
                ("candidate", candidate.stereo),
            )
            for band in image.bands
            if band.mono_problem
        ],
    )
    return loudness, dynamics, stereo


def _psr(measures: MasterMeasures) -> PsrDistribution:
    psr = measures.dynamics.psr
    return PsrDistribution(
        p10_db=round(psr.p10_db, 2), median_db=round(psr.median_db, 2), p90_db=round(psr.p90_db, 2)
    )


def compare_masters(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    spec: SpectrumSpec,
    candidate_lossy: bool = False,
) -> Comparison:
    """Align and compare two masters, refusing pairs that share too little audio."""
    try:
        comparison = compare(reference, candidate, spec=spec, candidate_lossy=candidate_lossy)
    except ValueError:
        comparison = None
    if comparison is None or comparison.overlap_s < MIN_OVERLAP_S:
        overlap = "no audio" if comparison is None else f"only {comparison.overlap_s:.1f} s"
        raise RatingError(
            f"reference and candidate share {overlap} at their best alignment; the minimum is "
            f"{MIN_OVERLAP_S:g} s. Upload two masters of the same song."
        )
    return comparison


def _file_info(upload: Upload, audio: DecodedAudio) -> FileInfo:
    return FileInfo(
        filename=upload.filename,
        size_bytes=upload.size_bytes,
        sha256=upload.sha256,
        format=audio.header.container,
        sample_rate_hz=audio.header.sample_rate_hz,
        channels=audio.header.channels,
        duration_s=round((audio.header.frames or 0) / audio.header.sample_rate_hz, 3),
    )


def spectra(
    comparison: Comparison, *, curve_db: np.ndarray, eq_difference_db: np.ndarray | None = None
) -> Spectra:
    """The comparison on the log bands, in dB, ready to draw.

    The reference is relative to its loudest band; the candidate is the
    reference plus the level-aligned difference, so the two overlay where the
    EQ is the same. `eq_difference_db`: the difference the model read, where
    it is not the comparison's (`app.ml.recognition.Recognition.read_difference_db`).
    """
    spec = comparison.spec
    reference_db = band_levels_db(comparison.reference_magnitude, spec=spec)
    difference_db = np.asarray(comparison.band_db, dtype=float)
    curve = np.broadcast_to(np.asarray(curve_db, dtype=float), difference_db.shape)
    return Spectra(
        band_centres_hz=_rounded(spec.band_centres_hz, 2),
        reference_db=_rounded(reference_db, 2),
        candidate_db=_rounded(reference_db + difference_db, 2),
        difference_db=_rounded(difference_db, 2),
        curve_db=_rounded(curve, 2),
        eq_difference_db=None if eq_difference_db is None else _rounded(eq_difference_db, 2),
    )


def _maybe_rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _rounded(values: np.ndarray, decimals: int) -> list[float]:
    return [float(v) for v in np.round(np.asarray(values, dtype=float), decimals)]


class PoolFull(ServiceError, RuntimeError):
    """Every worker is busy and the queue is full: 503 with Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"The service is busy with other analyses; retry in about {retry_after_s} s.",
            status_code=503,
            headers={"Retry-After": str(retry_after_s)},
        )
        self.retry_after_s = retry_after_s


class AnalysisPool:
    """A bounded set of worker threads for analyses, with a small admission queue.

    At most ``workers`` analyses run at once and at most ``queue`` more are
    admitted (waiting for a worker); `admit` refuses the rest with `PoolFull`
    rather than letting them wait without end.
    """

    def __init__(self, *, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="analysis")
        self._lock = threading.Lock()
        self._admitted = 0
        self._mean_analysis_s = 1.0

    @property
    def admitted(self) -> int:
        """Analyses admitted and not yet finished."""
        return self._admitted

    def retry_after_s(self) -> int:
        """A fair guess of when a slot frees up, whole seconds, 1 to 120."""
        rounds = math.ceil(max(self._admitted, 1) / self.workers)
        return int(min(120, max(1, math.ceil(rounds * self._mean_analysis_s))))

    def admit(self) -> Ticket:
        """Reserve a place, or raise `PoolFull` with a Retry-After guess."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise PoolFull(self.retry_after_s())
            self._admitted += 1
        return Ticket(self)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def _record(self, analysis_s: float) -> None:
        self._mean_analysis_s = 0.8 * self._mean_analysis_s + 0.2 * analysis_s

    def shutdown(self) -> None:
        """Stop taking work; running analyses finish on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class Ticket:
    """One admitted analysis; its place is released once it is closed and its jobs are done."""

    def __init__(self, pool: AnalysisPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._outstanding = 0
        self._closed = False
        self._released = False

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Run `job` on a worker thread; its duration feeds the Retry-After guess."""

        def run() -> T:
            started = time.perf_counter()
            try:
                return job()
            finally:
                self._pool._record(time.perf_counter() - started)

        with self._lock:
            self._outstanding += 1
        try:
            future = self._pool._executor.submit(run)
        except RuntimeError:
            self._job_done()
            raise
        future.add_done_callback(lambda _: self._job_done())
        return future

    def _job_done(self) -> None:
        with self._lock:
            self._outstanding -= 1
        self._maybe_release()

    def close(self) -> None:
        """Say no more jobs will come; the place is released when the last one ends."""
        self._closed = True
        self._maybe_release()

    def _maybe_release(self) -> None:
        with self._lock:
            if self._released or not self._closed or self._outstanding:
                return
            self._released = True
        self._pool._release()


async def rate_in_pool(
    *,
    pool: AnalysisPool,
    reference: Upload,
    candidate: Upload,
    model: RecognitionModel,
    amount_percent: float = 100.0,
    loudness_target_lufs: float = -14.0,
    cleanup: Callable[[], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> RateResponse:
    """Rate on one of `pool`'s workers: the one path of POST /rate, the page and assignments.

    Raises `PoolFull` (503, Retry-After) when every worker and queue place is taken.
    `cleanup` (e.g. removing the uploaded files) runs exactly once, when the analysis
    ends or when it could not start. `on_stage` hears ``"queued"`` once a place is
    reserved and ``"analysing"`` once a worker takes the job. The result's
    ``timings.queue_s`` is the wait for a worker.
    """
    submitted = False
    try:
        ticket = pool.admit()
        admitted = time.perf_counter()
        if on_stage is not None:
            on_stage("queued")

        def job() -> RateResponse:
            started = time.perf_counter()
            try:
                if on_stage is not None:
                    on_stage("analysing")
                result = rate(
                    reference=reference,
                    candidate=candidate,
                    model=model,
                    amount_percent=amount_percent,
                    loudness_target_lufs=loudness_target_lufs,
                )
            finally:
                if cleanup is not None:
                    cleanup()
            result.timings.queue_s = round(started - admitted, 4)
            return result

        try:
            future = ticket.submit(job)
            submitted = True
        finally:
            ticket.close()
    finally:
        if not submitted and cleanup is not None:
            cleanup()
    return await asyncio.wrap_future(future)
