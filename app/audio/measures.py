"""Every whole-master measure of one file: loudness, dynamics and stereo, from one transform."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.audio.dynamics import Dynamics, measure_dynamics
from app.audio.loudness import Loudness, frame_spectra, measure_loudness
from app.audio.stereo import Stereo, measure_stereo


@dataclass(frozen=True, kw_only=True)
class MasterMeasures:
    """Loudness, dynamics and stereo image of one file (stereo None for mono)."""

    loudness: Loudness
    dynamics: Dynamics
    stereo: Stereo | None


def measure_master(channels: np.ndarray, *, sample_rate_hz: int) -> MasterMeasures:
    """Measure one file's loudness, dynamics and stereo image.

    Parameters
    ----------
    channels : np.ndarray
        Shape ``(frames, channels)``; left and right first.
    sample_rate_hz : int
        Their rate.

    Returns
    -------
    MasterMeasures
    """
    # Framing is the one copy of the file: the peak meters read its blocks.
    frames = frame_spectra(channels, sample_rate_hz=sample_rate_hz)
    loudness = measure_loudness(channels, sample_rate_hz=sample_rate_hz, frames=frames)
    return MasterMeasures(
        loudness=loudness,
        dynamics=measure_dynamics(frames, loudness=loudness),
        stereo=measure_stereo(frames),
    )
