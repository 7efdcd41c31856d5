"""The corpus manifest, zip members, Frets on Fire stems, md5 checks and clip caching."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.training import corpus

from ..conftest import pink_noise

HEADER = (
    "package\tversion\trelative_path_inside_package\tduration_s\tsamplerate\tchannels\t"
    "license\tgenre_guess\tformat\tbw_khz\tmd5\tflags\n"
)


def ogg_bytes(samples: np.ndarray, sample_rate_hz: int = 44_100) -> bytes:
    """Ogg Vorbis bytes, written a second at a time (libsndfile crashes on one huge write)."""
    buffer = io.BytesIO()
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with sf.SoundFile(buffer, "w", sample_rate_hz, channels, format="OGG", subtype="VORBIS") as out:
        for start in range(0, len(samples), sample_rate_hz):
            out.write(samples[start : start + sample_rate_hz])
    return buffer.getvalue()


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> tuple[list[corpus.Track], corpus.CorpusLayout]:
    """Two packages extracted under a data folder: a plain file, a zip member and stems."""
    layout = corpus.CorpusLayout(tmp_path / "data")
    song = pink_noise(duration_s=70.0, sample_rate_hz=44_100, seed=1)
    stereo = np.stack([song, 0.5 * song], axis=1)
    plain = ogg_bytes(stereo)
    root = layout.packages / "demo-music_1:1.0-1_all".replace(":", "%3a")
    (root / "usr/share/demo").mkdir(parents=True)
    (root / "usr/share/demo/track.ogg").write_bytes(plain)
    with zipfile.ZipFile(root / "usr/share/demo/bundle.zip", "w") as bundle:
        bundle.writestr("music/inner.ogg", plain)
    backing = ogg_bytes(0.5 * song)
    guitar = ogg_bytes(0.5 * pink_noise(duration_s=70.0, sample_rate_hz=44_100, seed=2))
    stems = layout.packages / "fof-songs_2_all" / "songs/x"
    stems.mkdir(parents=True)
    (stems / "song.ogg").write_bytes(backing)
    (stems / "guitar.ogg").write_bytes(guitar)
    manifest = tmp_path / "train.tsv"
    rows = [
        ("demo-music", "1:1.0-1", "usr/share/demo/track.ogg", plain, ""),
        ("demo-music", "1:1.0-1", "usr/share/demo/bundle.zip!music/inner.ogg", plain, ""),
        (
            "fof-songs",
            "2",
            "songs/x/song.ogg",
            backing,
            "stem_backing(song.ogg+guitar.ogg=full_mix)",
        ),
    ]
    lines = [
        f"{p}\t{v}\t{path}\t70.0\t44100\t2\tCC0\tdemo\togg/VORBIS\t20\t"
        f"{hashlib.md5(data).hexdigest()}\t{flags}\n"
        for p, v, path, data, flags in rows
    ]
    manifest.write_text(HEADER + "".join(lines))
    return corpus.read_manifest(manifest), layout


def test_manifest_rows_and_clip_counts(
    tiny_corpus: tuple[list[corpus.Track], corpus.CorpusLayout],
) -> None:
    tracks, _ = tiny_corpus
    assert [t.package for t in tracks] == ["demo-music", "demo-music", "fof-songs"]
    assert tracks[2].is_stem and not tracks[0].is_stem
    assert all(t.n_clips == 1 for t in tracks)  # 70 s: skip 30 s, one whole 30 s clip


def test_split_is_by_track_and_stable() -> None:
    base = {
        "package": "p",
        "version": "1",
        "relative_path": "a.ogg",
        "duration_s": 200.0,
        "sample_rate_hz": 44_100,
        "license": "CC0",
        "genre": "x",
        "flags": "",
    }
    splits = [
        corpus.Track(md5=hashlib.md5(str(i).encode()).hexdigest(), **base).split for i in range(200)
    ]
    assert 0.1 < splits.count("validation") / len(splits) < 0.3
    track = corpus.Track(md5="0" * 32, **base)
    assert track.split == track.split == "validation"


def test_zip_members_and_md5_are_checked(
    tiny_corpus: tuple[list[corpus.Track], corpus.CorpusLayout],
) -> None:
    tracks, layout = tiny_corpus
    for track in tracks:
        corpus.verify_track(track, layout=layout)
    assert corpus.track_bytes(tracks[1], layout=layout) == corpus.track_bytes(
        tracks[0], layout=layout
    )
    changed = corpus.Track(**{**tracks[0].__dict__, "md5": "f" * 32})
    with pytest.raises(corpus.CorpusError, match="md5"):
        corpus.verify_track(changed, layout=layout)


def test_clips_are_cut_after_30_s_and_peak_normalised(
    tiny_corpus: tuple[list[corpus.Track], corpus.CorpusLayout],
) -> None:
    tracks, layout = tiny_corpus
    (path,) = corpus.cache_clips(tracks[0], layout=layout)
    clip = np.load(path)
    assert len(clip) == 30 * 44_100
    assert 20 * np.log10(np.max(np.abs(clip))) == pytest.approx(-12.0, abs=0.01)
    # The clip is the song from 30 s on: it correlates with the source there, not at 0 s.
    song = pink_noise(duration_s=70.0, sample_rate_hz=44_100, seed=1)
    at_30 = np.corrcoef(clip[:44_100], song[30 * 44_100 : 31 * 44_100])[0, 1]
    at_0 = np.corrcoef(clip[:44_100], song[:44_100])[0, 1]
    assert at_30 > 0.95 > abs(at_0) + 0.5
    assert corpus.cache_clips(tracks[0], layout=layout) == [path]  # cached: no work


def test_stems_are_summed(tiny_corpus: tuple[list[corpus.Track], corpus.CorpusLayout]) -> None:
    tracks, layout = tiny_corpus
    mix = corpus.decode_excerpt(tracks[2], layout=layout, start_s=30.0, duration_s=5.0)
    backing = (
        0.5 * pink_noise(duration_s=70.0, sample_rate_hz=44_100, seed=1)[30 * 44_100 : 35 * 44_100]
    )
    guitar = (
        0.5 * pink_noise(duration_s=70.0, sample_rate_hz=44_100, seed=2)[30 * 44_100 : 35 * 44_100]
    )
    assert np.corrcoef(mix, backing + guitar)[0, 1] > 0.95
    assert np.corrcoef(mix, backing)[0, 1] < 0.9
