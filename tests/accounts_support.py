"""Fixtures and factories for the accounts, classes, history and web tests.

Each test gets a fresh SQLite file under its `tmp_path` (tables made from the models; the
migrations have their own tests), cheap argon2 settings, the real app with its lifespan
running (`with TestClient(app)`) and a tiny fake model, and factories for users, sessions,
tokens, classes, assignments and ratings. Conftests import the fixtures from here.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.accounts.settings import AccountSettings
from app.audio.eq import EqOperation, apply, response_db
from app.audio.spectrum import Comparison
from app.classes import service as classes
from app.classes.models import Assignment, SchoolClass
from app.config import Settings
from app.db import Base, engine_for, make_engine, session_factory
from app.history.models import Rating
from app.history.service import StoredFile, store_rating
from app.http.deps import CSRF_HEADER, SESSION_COOKIE
from app.main import create_app
from app.ml.registry import ModelRegistry, Recognition
from tests.conftest import pink_noise

#: argon2id at its cheapest: tests hash many passwords.
FAST_ACCOUNTS = AccountSettings(
    _env_file=None,  # type: ignore[call-arg]
    ARGON2_TIME_COST=1,
    ARGON2_MEMORY_COST_KIB=8,
    ARGON2_PARALLELISM=1,
    LOGIN_MAX_FAILURES=3,
    LOGIN_MAX_FAILURES_PER_ADDRESS=8,
    LOGIN_LOCKOUT_S=60,
    MAX_CONCURRENT_PASSWORD_HASHES=2,
    PASSWORD_HASH_WAIT_S=0.2,
)
PASSWORD = "correct horse battery"


class ZeroModel:
    """A fake model that never hears a difference (rating 0)."""

    def __init__(self, model_id: str = "general") -> None:
        self.id = model_id
        self.metadata: dict[str, Any] = {"id": model_id, "description": "fake", "figures": {}}

    def recognise(self, comparison: Comparison) -> Recognition:
        curve = response_db(
            [],
            frequency_hz=comparison.spec.band_centres_hz,
            sample_rate_hz=comparison.spec.sample_rate_hz,
        )
        return Recognition(model_id=self.id, operations=[], curve_db=np.asarray(curve))


class GateModel:
    """A fake model that holds its worker until the test opens `gate` (rating 0)."""

    id = "general"
    metadata: dict[str, Any] = {"id": "general", "description": "gated", "figures": {}}

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()

    def recognise(self, comparison: Comparison) -> Recognition:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return Recognition(
            model_id=self.id,
            operations=[],
            curve_db=np.zeros(len(comparison.spec.band_centres_hz)),
        )


#: C4 boosted and C8 cut by 6 dB, two octaves wide: on F1W2's grid, so that shipped model
#: answers it exactly (measured: the same three figures for each, confidence 1.0).
KNOWN_EQ = [EqOperation(261.63, 6.0, 2.0), EqOperation(4186.01, -6.0, 2.0)]


def known_eq_wavs(*, seconds: float = 7.0, seed: int = 11) -> tuple[bytes, bytes]:
    """A pink-noise 'master' and the same through `KNOWN_EQ`, as 16-bit WAV bytes."""
    master = pink_noise(duration_s=seconds, sample_rate_hz=44_100, seed=seed)
    candidate = apply(master, KNOWN_EQ, sample_rate_hz=44_100)

    def wav(samples: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        sf.write(buffer, samples, 44_100, format="WAV", subtype="PCM_16")
        return buffer.getvalue()

    return wav(master), wav(candidate)


def assert_rated_as_known_eq(operations: list[dict[str, Any]]) -> None:
    """Exactly `KNOWN_EQ`'s two bells, in place, direction, size and width."""
    found = sorted(operations, key=lambda op: op["frequency_hz"])
    assert len(found) == 2, operations
    for op, want in zip(found, KNOWN_EQ, strict=True):
        assert op["frequency_hz"] == pytest.approx(want.frequency_hz, abs=0.01), op
        assert op["gain_db"] == pytest.approx(want.gain_db, abs=0.2), op
        assert op["width_octaves"] == want.width_octaves, op


def real_rating_registry(shipped: ModelRegistry) -> ModelRegistry:
    """The shipped F1W2 alone (0.05 s a rating; the general model takes about 1 s)."""
    return ModelRegistry(models={"F1W2": shipped.get("F1W2")}, default_id="F1W2")


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with every table, made once and copied for each test."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def db_url(tmp_path: Path, schema_template: Path) -> Iterator[str]:
    """A fresh SQLite database with every table."""
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(schema_template, path)
    url = f"sqlite:///{path}"
    yield url
    engine_for(url).dispose()


@pytest.fixture
def app_settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings isolated from `.env`: this test's database and data folder."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=db_url,
        DATA_DIR=tmp_path / "data",
        MODELS_DIR=tmp_path / "models",
        MAX_UPLOAD_MB=4,
        MAX_CONCURRENT_ANALYSES=1,
        MAX_QUEUED_ANALYSES=2,
    )


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    """A session on the test database (factories commit through it)."""
    with session_factory(engine_for(db_url))() as session:
        yield session


def make_app(settings: Settings, registry: ModelRegistry | None = None) -> Any:
    """The real app with cheap password hashing and `registry` (by default a fake model)."""
    app = create_app(
        settings,
        registry=registry or ModelRegistry(models={"general": ZeroModel()}, default_id="general"),
    )
    app.state.account_settings = FAST_ACCOUNTS
    return app


@pytest.fixture
def app(app_settings: Settings) -> Any:
    """The app under test."""
    return make_app(app_settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """A client with the app's lifespan running; redirects are not followed."""
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


# Factories --------------------------------------------------------------------------------


def make_user(db: Session, email: str, role: Role = Role.STUDENT, password: str = PASSWORD) -> User:
    """Create and commit a user."""
    user = accounts.create_user(
        db_session=db, email=email, password=password, role=role, settings=FAST_ACCOUNTS
    )
    db.commit()
    return user


@dataclass
class Browser:
    """A signed-in browser: its session cookie and CSRF token."""

    user: User
    token: str
    csrf: str

    def use(self, client: TestClient) -> dict[str, str]:
        """Put the cookie on the client; return the headers htmx would send."""
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, self.token)
        return {CSRF_HEADER: self.csrf}


def sign_in(db: Session, user: User) -> Browser:
    """Open a session for a user directly (no password hashing)."""
    session, token = accounts.create_session(db_session=db, user=user, settings=FAST_ACCOUNTS)
    db.commit()
    return Browser(user=user, token=token, csrf=session.csrf_token)


def make_token(db: Session, user: User, name: str = "test") -> str:
    """Create and commit an API token; return the raw token."""
    _, raw = accounts.create_api_token(db_session=db, user=user, name=name)
    db.commit()
    return raw


def make_class(
    db: Session, instructor: User, name: str = "Mastering 101", **kw: Any
) -> SchoolClass:
    """Create and commit a class."""
    school_class = classes.create_class(db_session=db, instructor=instructor, name=name, **kw)
    db.commit()
    return school_class


def join(db: Session, student: User, school_class: SchoolClass) -> None:
    """Make a student a member of a class."""
    classes.join_class(db_session=db, user=student, code=school_class.join_code)
    db.commit()


def make_assignment(
    db: Session, school_class: SchoolClass, data_dir: Path, reference: Path | None = None
) -> Assignment:
    """Create and commit an assignment with a stand-in reference file."""
    if reference is None:
        reference = data_dir.parent / "ref.wav"
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_bytes(b"RIFF fake reference")
    assignment = classes.create_assignment(
        db_session=db,
        school_class=school_class,
        title="Song A",
        due_at=datetime.now(UTC) + timedelta(days=7),
        reference_path=reference,
        reference_filename="song-a-pro.wav",
        reference_sha256=hashlib.sha256(reference.read_bytes()).hexdigest(),
        reference_duration_s=30.0,
        data_dir=data_dir,
    )
    db.commit()
    return assignment


def fake_result(rating: int = 1, model: str = "general") -> dict[str, Any]:
    """A `POST /rate`-shaped result with `rating` operations."""
    operations = [
        {"frequency_hz": 261.63 * 2**i, "gain_db": 6.0, "width_octaves": 1.0, "band": "bass"}
        for i in range(rating)
    ]
    suggestions = [
        {
            "band": "bass",
            "action": "decrease",
            "frequency_hz": op["frequency_hz"],
            "gain_db": -6.0,
            "text": f"Decrease bass: cut about 6 dB around {op['frequency_hz']:.0f} Hz",
        }
        for op in operations
    ]
    return {"rating": rating, "model": model, "operations": operations, "suggestions": suggestions}


def make_rating(
    db: Session,
    user: User,
    *,
    rating: int = 1,
    assignment_id: int | None = None,
    when: datetime | None = None,
    commit: bool = True,
    filename: str = "mine.wav",
) -> Rating:
    """Store a rating for a user."""
    facts = StoredFile(sha256="a" * 64, duration_s=30.0, filename="ref.wav")
    stored = store_rating(
        db_session=db,
        user=user,
        assignment_id=assignment_id,
        result=fake_result(rating),
        reference_info=facts,
        candidate_info=StoredFile(sha256="b" * 64, duration_s=29.5, filename=filename),
    )
    if when is not None:
        stored.created_at = when
    if commit:
        db.commit()
    return stored


@dataclass
class World:
    """Every role the authorisation tests cross with every route, and their objects."""

    student: User
    other_student: User
    instructor: User
    other_instructor: User
    admin: User
    school_class: SchoolClass
    other_class: SchoolClass
    assignment: Assignment
    rating: Rating
    browsers: dict[str, Browser]


@pytest.fixture
def world(db: Session, app_settings: Settings) -> World:
    """Two instructors with a class each, a student in each class, an admin, one rating."""
    instructor = make_user(db, "teacher@example.org", Role.INSTRUCTOR)
    other_instructor = make_user(db, "other-teacher@example.org", Role.INSTRUCTOR)
    admin = make_user(db, "admin@example.org", Role.ADMIN)
    student = make_user(db, "student@example.org")
    other_student = make_user(db, "other-student@example.org")
    school_class = make_class(db, instructor)
    other_class = make_class(db, other_instructor, "Other class")
    join(db, student, school_class)
    join(db, other_student, other_class)
    assignment = make_assignment(db, school_class, app_settings.DATA_DIR)
    rating = make_rating(db, student, assignment_id=assignment.id)
    users = {
        "student": student,
        "other_student": other_student,
        "instructor": instructor,
        "other_instructor": other_instructor,
        "admin": admin,
    }
    return World(
        student=student,
        other_student=other_student,
        instructor=instructor,
        other_instructor=other_instructor,
        admin=admin,
        school_class=school_class,
        other_class=other_class,
        assignment=assignment,
        rating=rating,
        browsers={role: sign_in(db, user) for role, user in users.items()},
    )


Factory = Callable[..., Any]


def postgres_schema_url(schema: str) -> Iterator[str]:
    """`DATABASE_URL_POSTGRES` confined to a fresh schema (dropped afterwards)."""
    import os

    from sqlalchemy import text

    from app.db import make_engine
    from tests.components import require

    require("postgres")  # skips, or fails under CI=true, when unset
    url = os.environ["DATABASE_URL_POSTGRES"]

    def run(statement: str) -> None:
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text(statement))
        engine.dispose()

    run(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    run(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}"
    engine_for.cache_clear()
    run(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
