"""The training corpus: freely licensed music from Debian packages.

``mastering-trainer corpus fetch`` downloads each package of ``train.tsv`` at its
pinned version (``apt-get download``), extracts it without installing
(``dpkg-deb -x``), resolves zip members and the Frets on Fire stems, checks each
file's md5 and resumes where it stopped. Clips are then cut and cached as
float32 ``.npy`` files, peak-normalised to -12 dBFS, under ``DATA_DIR/clips``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from app.audio.io import ANALYSIS_SAMPLE_RATE_HZ, resample
from app.ml.features import FEATURE_VERSION

CLIP_SKIP_S = 30.0
CLIP_DURATION_S = 30.0
MAX_CLIPS_PER_TRACK = 3
CLIP_PEAK_DBFS = -12.0
#: One track in this many (by a hash of its md5) is held out for validation.
VALIDATION_ONE_IN = 5


class CorpusError(RuntimeError):
    """A corpus step that cannot go on (a package left the archive, a checksum differs)."""


@dataclass(frozen=True, kw_only=True)
class Track:
    """One row of ``train.tsv``."""

    package: str
    version: str
    relative_path: str
    duration_s: float
    sample_rate_hz: int
    license: str
    genre: str
    md5: str
    flags: str

    @property
    def id(self) -> str:
        """Stable id: the audio file's md5."""
        return self.md5

    @property
    def is_stem(self) -> bool:
        """A Frets on Fire ``song.ogg`` whose full mix is ``song + guitar``."""
        return "stem_backing" in self.flags

    @property
    def split(self) -> str:
        """``"validation"`` or ``"train"``, fixed by the track (never by clip)."""
        return "validation" if int(self.md5[:8], 16) % VALIDATION_ONE_IN == 0 else "train"

    @property
    def n_clips(self) -> int:
        """How many whole 30 s clips fit after skipping the first 30 s (at most 3)."""
        fitting = int((self.duration_s - CLIP_SKIP_S) // CLIP_DURATION_S)
        return max(0, min(MAX_CLIPS_PER_TRACK, fitting))


def read_manifest(path: Path) -> list[Track]:
    """Parse ``train.tsv``."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Track(
            package=row["package"],
            version=row["version"],
            relative_path=row["relative_path_inside_package"],
            duration_s=float(row["duration_s"]),
            sample_rate_hz=int(row["samplerate"]),
            license=row["license"],
            genre=row["genre_guess"],
            md5=row["md5"],
            flags=row.get("flags") or "",
        )
        for row in rows
    ]


def manifest_hash(path: Path) -> str:
    """sha256 of the manifest file, recorded in every model's metadata."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class CorpusLayout:
    """Where the corpus lives under ``DATA_DIR``."""

    data_dir: Path

    @property
    def debs(self) -> Path:
        """Downloaded ``.deb`` files."""
        return self.data_dir / "corpus" / "debs"

    @property
    def packages(self) -> Path:
        """Extracted package trees, one folder per ``.deb``."""
        return self.data_dir / "corpus" / "packages"

    @property
    def clips(self) -> Path:
        """Cached clips, ``<md5>_<k>.npy``."""
        return self.data_dir / "clips"

    @property
    def datasets(self) -> Path:
        """Synthesised dataset shards, one folder per dataset, per feature version.

        Shards hold spectra in the layout of one feature version; a new
        version starts a new folder, so old shards are never mixed in.
        """
        return self.data_dir / f"datasets-v{FEATURE_VERSION}"

    def clip_path(self, track: Track, index: int) -> Path:
        """Cache file of one clip."""
        return self.clips / f"{track.md5}_{index}.npy"


def _deb_name(package: str, version: str) -> str:
    return f"{package}_{version.replace(':', '%3a')}_all"


def download_package(package: str, version: str, *, layout: CorpusLayout) -> Path:
    """Download one pinned package, unless already there; return the ``.deb`` path."""
    layout.debs.mkdir(parents=True, exist_ok=True)
    deb = layout.debs / f"{_deb_name(package, version)}.deb"
    if deb.is_file():
        return deb
    result = subprocess.run(
        ["apt-get", "download", f"{package}={version}"],
        cwd=layout.debs,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not deb.is_file():
        raise CorpusError(
            f"{package}={version} could not be downloaded: the pinned version has probably left "
            f"the archive (run `apt-get update`, or update train.tsv). apt said: "
            f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'nothing'}"
        )
    return deb


def extract_package(deb: Path, *, layout: CorpusLayout) -> Path:
    """Extract a ``.deb`` without installing it; resumable through a ``.done`` marker."""
    target = layout.packages / deb.stem
    if (target / ".done").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    (target / ".done").touch()
    return target


def track_bytes(track: Track, *, layout: CorpusLayout) -> bytes:
    """The audio file's bytes, from the extracted tree or from inside a zip archive."""
    root = layout.packages / _deb_name(track.package, track.version)
    archive, _, member = track.relative_path.partition("!")
    path = root / archive
    if path.is_symlink():
        raise CorpusError(f"{path} is a symlink; the manifest should not list it")
    if member:
        with zipfile.ZipFile(path) as bundle:
            return bundle.read(member)
    return path.read_bytes()


def verify_track(track: Track, *, layout: CorpusLayout) -> None:
    """Raise `CorpusError` when the file's md5 differs from the manifest's."""
    digest = hashlib.md5(track_bytes(track, layout=layout)).hexdigest()
    if digest != track.md5:
        raise CorpusError(
            f"{track.package} {track.relative_path}: md5 {digest} differs from the manifest's "
            f"{track.md5}; the package changed"
        )


def _read_excerpt(data: bytes, *, start_s: float, duration_s: float) -> tuple[np.ndarray, int]:
    with sf.SoundFile(io.BytesIO(data)) as sound:
        rate = sound.samplerate
        sound.seek(int(start_s * rate))
        excerpt = sound.read(int(duration_s * rate), dtype="float32", always_2d=True)
    return excerpt, rate


def decode_excerpt(
    track: Track, *, layout: CorpusLayout, start_s: float, duration_s: float
) -> np.ndarray:
    """Mono float32 audio at 44.1 kHz; Frets on Fire stems are summed first."""
    excerpt, rate = _read_excerpt(
        track_bytes(track, layout=layout), start_s=start_s, duration_s=duration_s
    )
    if track.is_stem:
        guitar_path = (
            layout.packages
            / _deb_name(track.package, track.version)
            / Path(track.relative_path).with_name("guitar.ogg")
        )
        guitar, _ = _read_excerpt(guitar_path.read_bytes(), start_s=start_s, duration_s=duration_s)
        length = min(len(excerpt), len(guitar))
        excerpt = excerpt[:length] + guitar[:length]
    mono = excerpt.mean(axis=1, dtype=np.float32)
    return resample(mono, from_hz=rate, to_hz=ANALYSIS_SAMPLE_RATE_HZ)


def peak_normalise(samples: np.ndarray, *, peak_dbfs: float = CLIP_PEAK_DBFS) -> np.ndarray:
    """Scale so the highest absolute sample sits at `peak_dbfs`."""
    peak = float(np.max(np.abs(samples)))
    if peak == 0:
        raise CorpusError("cannot normalise digital silence")
    return (samples * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def cache_clips(track: Track, *, layout: CorpusLayout) -> list[Path]:
    """Cut the track's clips (30 s each after skipping 30 s), cache and return their paths."""
    paths = [layout.clip_path(track, k) for k in range(track.n_clips)]
    if all(path.is_file() for path in paths):
        return paths
    layout.clips.mkdir(parents=True, exist_ok=True)
    audio = decode_excerpt(
        track, layout=layout, start_s=CLIP_SKIP_S, duration_s=CLIP_DURATION_S * track.n_clips
    )
    clip_length = int(CLIP_DURATION_S * ANALYSIS_SAMPLE_RATE_HZ)
    for k, path in enumerate(paths):
        clip = audio[k * clip_length : (k + 1) * clip_length]
        if len(clip) < clip_length * 0.99:
            raise CorpusError(f"{track.relative_path}: clip {k} is short ({len(clip)} samples)")
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, peak_normalise(clip))
        temporary.replace(path)
    return paths


def packages_of(tracks: Iterable[Track]) -> list[tuple[str, str]]:
    """Distinct (package, version) pairs in manifest order."""
    return list(dict.fromkeys((track.package, track.version) for track in tracks))


def fetch(tracks: list[Track], *, layout: CorpusLayout) -> Iterator[str]:
    """Download, extract and verify every package; yield a line per step done."""
    for package, version in packages_of(tracks):
        deb = download_package(package, version, layout=layout)
        extract_package(deb, layout=layout)
        for track in tracks:
            if (track.package, track.version) == (package, version):
                verify_track(track, layout=layout)
        yield f"{package}={version}"
