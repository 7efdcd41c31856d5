"""Receiving uploads safely: a request size limit and a streaming multipart spool.

`UploadGuardMiddleware` answers 413 from ``Content-Length`` before the app
reads a byte, and again while the body streams in when the length is unknown
or a lie; 408 when a body stalls or takes too long; 503 when too many uploads
are being received at once. `receive_form` streams a multipart body straight into files in a
private temporary folder (mode 0700), capping each file and each field, and hashing files as
they arrive; the parsing runs on a worker thread. The caller removes the folder (`Spool.remove`).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

from anyio import to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.rating.service import RatingError

MB = 1024 * 1024

#: Largest text field (model id, amount, a CSRF token...), bytes.
MAX_FIELD_BYTES = 4096
#: Most parts a form may have.
MAX_PARTS = 16


def _megabytes(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= MB else f"{size} bytes"


def _error_body(detail: str, *, htmx: bool) -> tuple[bytes, bytes]:
    if htmx:
        text = f'<div class="error" role="alert">{html.escape(detail)}</div>'
        return text.encode(), b"text/html; charset=utf-8"
    return json.dumps({"detail": detail}).encode(), b"application/json"


class UploadGuardMiddleware:
    """Guard request bodies: a size limit, read timeouts, and a bound on uploads (pure ASGI).

    - 413 when ``Content-Length`` is over ``max_body_bytes`` (before reading a byte) or
      when the streamed body grows past it.
    - 408 when the client sends nothing for ``idle_timeout_s`` while the app waits for
      the body, or the body takes longer than ``total_timeout_s`` in all.
    - 503 with Retry-After when ``max_uploads`` multipart bodies are already being
      received; an upload counts from its headers until its last byte (or its end).

    Parameters
    ----------
    app : ASGI app
        The app to protect.
    max_body_bytes : int
        The size limit, bytes.
    per_file_mb : int
        The per-file limit, only to word the refusal.
    idle_timeout_s, total_timeout_s : float, optional
        The read timeouts, seconds; None for none.
    max_uploads : int, optional
        Uploads received at once; None for no bound.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        per_file_mb: int,
        idle_timeout_s: float | None = None,
        total_timeout_s: float | None = None,
        max_uploads: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.idle_timeout_s = idle_timeout_s
        self.total_timeout_s = total_timeout_s
        self.max_uploads = max_uploads
        #: Multipart bodies being received now (one event loop: no lock needed).
        self.uploads_in_flight = 0
        self.too_large = (
            f"The upload is larger than the {_megabytes(max_body_bytes)} limit per request; "
            f"each file (reference and candidate) may be at most {per_file_mb} MB."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        htmx = b"hx-request" in headers
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, self.too_large, htmx=htmx)
            return
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        if upload and self.max_uploads is not None:
            if self.uploads_in_flight >= self.max_uploads:
                detail = (
                    f"The server is already receiving {self.max_uploads} uploads, its limit; "
                    f"retry in a few seconds (Retry-After: {UPLOADS_RETRY_AFTER_S} s)."
                )
                extra = [(b"retry-after", str(UPLOADS_RETRY_AFTER_S).encode())]
                await _refuse(send, 503, detail, htmx=htmx, extra=extra)
                return
        await self._guarded(scope, receive, send, htmx=htmx, upload=upload)

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, *, htmx: bool, upload: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if self.total_timeout_s is None else loop.time() + self.total_timeout_s
        received = 0
        body_done = False
        counted = upload
        refusal: tuple[int, str] | None = None
        response_started = False
        if counted:
            self.uploads_in_flight += 1

        def finish_body() -> None:
            nonlocal body_done, counted
            body_done = True
            if counted:
                counted = False
                self.uploads_in_flight -= 1

        def fail(status: int, detail: str) -> NoReturn:
            nonlocal refusal
            refusal = (status, detail)
            finish_body()
            raise RatingError(detail, http_status=status)

        async def guarded_receive() -> Message:
            nonlocal received
            if body_done:  # after the body, the app only listens for a disconnect
                return await receive()
            timeouts = [self.idle_timeout_s]
            if deadline is not None:
                timeouts.append(max(0.0, deadline - loop.time()))
            timeout = min((t for t in timeouts if t is not None), default=None)
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    fail(408, f"The upload took longer than {self.total_timeout_s:g} s in all.")
                fail(
                    408,
                    f"The upload stalled: nothing arrived for {self.idle_timeout_s:g} s "
                    "(the limit); send the request again.",
                )
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    fail(413, self.too_large)
                if not message.get("more_body", False):
                    finish_body()
            else:
                finish_body()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refusal is not None:
                return  # the app's answer to a cut-off body is replaced by ours
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except RatingError:
            if refusal is None:
                raise
        finally:
            finish_body()
        if refusal is not None and not response_started:
            await _refuse(send, *refusal, htmx=htmx)


#: Retry-After of the 503 when too many uploads arrive at once, seconds.
UPLOADS_RETRY_AFTER_S = 5


async def _refuse(
    send: Send,
    status: int,
    detail: str,
    *,
    htmx: bool,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body, content_type = _error_body(detail, htmx=htmx)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def clean_filename(raw: bytes | str) -> str:
    """An uploaded file's name as stored: UTF-8, without NUL or other control characters.

    PostgreSQL cannot store a NUL in text, and the name is only shown back to the user,
    so the characters are dropped rather than the upload refused.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return "".join(c for c in text if c >= " " and c != "\x7f")[:255]


@dataclass
class SpooledFile:
    """An uploaded file written to the spool folder."""

    path: Path
    filename: str | None
    size_bytes: int = 0
    #: The hex digest, set once the part has ended; empty while the file is incomplete.
    sha256: str = ""


@dataclass
class Spool:
    """A private temporary folder holding one request's uploads."""

    folder: Path
    files: dict[str, SpooledFile] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls) -> Spool:
        """Make a new folder only this process's user can read (mode 0700)."""
        return cls(folder=Path(tempfile.mkdtemp(prefix="mastering-trainer-")))

    def remove(self) -> None:
        """Delete the folder and everything in it (idempotent)."""
        shutil.rmtree(self.folder, ignore_errors=True)


class _FormReceiver:
    """Callbacks for python-multipart that write file parts straight to disk."""

    def __init__(
        self,
        spool: Spool,
        *,
        file_fields: tuple[str, ...],
        max_file_bytes: int,
        on_field: Callable[[str, str], None] | None = None,
    ) -> None:
        self.spool = spool
        self.on_field = on_field
        self.file_fields = file_fields
        self.max_file_bytes = max_file_bytes
        self.parts = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._handle: IO[bytes] | None = None
        self._hash: Any = None
        self._file: SpooledFile | None = None
        self._text = bytearray()

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise RatingError(f"The form has more than {MAX_PARTS} parts.")
        self._disposition = b""
        self._file = None
        self._text = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > MAX_FIELD_BYTES:
            raise RatingError("A multipart part header is too long.", http_status=400)

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise RatingError(
                "Every multipart part needs a Content-Disposition header with a name.",
                http_status=400,
            )
        self._name = raw_name.decode("utf-8", "replace")
        if self._name in self.file_fields:
            if self._name in self.spool.files:
                raise RatingError(f"Send one {self._name} file, not several.")
            filename = options.get(b"filename")
            path = self.spool.folder / f"{self._name}.upload"
            self._file = SpooledFile(
                path=path,
                filename=None if filename is None else clean_filename(filename),
            )
            self.spool.files[self._name] = self._file
            self._handle = open(path, "wb")  # noqa: SIM115 - closed in on_part_end / close()
            self._hash = hashlib.sha256()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None and self._handle is not None:
            self._file.size_bytes += len(chunk)
            if self._file.size_bytes > self.max_file_bytes:
                raise RatingError(
                    f"{self._name}: is larger than the {_megabytes(self.max_file_bytes)} "
                    "limit per file.",
                    http_status=413,
                )
            self._handle.write(chunk)
            self._hash.update(chunk)
        else:
            self._text += chunk
            if len(self._text) > MAX_FIELD_BYTES:
                raise RatingError(
                    f"The form field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes."
                )

    def on_part_end(self) -> None:
        if self._file is not None:
            self.close()
            self._file.sha256 = self._hash.hexdigest()
        elif self._name not in self.spool.fields:
            try:
                self.spool.fields[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise RatingError(f"The form field {self._name!r} is not UTF-8 text.") from None
            if self.on_field is not None:
                self.on_field(self._name, self.spool.fields[self._name])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


#: Body bytes gathered on the event loop before a worker thread parses them.
PARSE_BATCH_BYTES = 1 * MB


def _parse(parser: MultipartParser, chunks: list[bytes], last: bool) -> None:
    """Feed body chunks to the parser (on a worker thread: it writes and hashes the files)."""
    for chunk in chunks:
        parser.write(chunk)
    if last:
        parser.finalize()


async def receive_form(
    request: Request,
    spool: Spool,
    *,
    file_fields: tuple[str, ...],
    max_file_bytes: int,
    on_field: Callable[[str, str], None] | None = None,
) -> None:
    """Stream the request's multipart body into `spool`: files to disk, fields to text.

    `on_field` is called with each text field's name and value as soon as it has
    arrived (on a worker thread), before the parts after it.

    The event loop only receives the body (the guards' timeouts and limits stay there);
    parsing, writing and hashing run on a worker thread, ``PARSE_BATCH_BYTES`` at a time,
    so a busy upload never holds up other requests such as ``/healthz``.

    Raises
    ------
    RatingError
        415 for a body that is not multipart/form-data, 413 for a file over
        ``max_file_bytes``, 400/422 for a malformed form.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        got = content_type.decode("latin-1") or "no Content-Type"
        raise RatingError(
            "Send the files as multipart/form-data with the fields reference and candidate; "
            f"got {got}.",
            http_status=415,
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise RatingError("The multipart/form-data body has no boundary.", http_status=400)
    receiver = _FormReceiver(
        spool, file_fields=file_fields, max_file_bytes=max_file_bytes, on_field=on_field
    )
    callbacks: Any = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        chunks: list[bytes] = []
        pending_bytes = 0
        first = True  # parsed at once: the fields sent before the files reach `on_field` early
        async for chunk in request.stream():
            chunks.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes >= PARSE_BATCH_BYTES or first:
                first = False
                await to_thread.run_sync(_parse, parser, chunks, False)
                chunks, pending_bytes = [], 0
        await to_thread.run_sync(_parse, parser, chunks, True)
        for name, file in spool.files.items():
            if not file.sha256:  # the body ended inside this part
                raise RatingError(
                    f"The {name} file is incomplete: the upload ended inside it.", http_status=400
                )
    except ClientDisconnect:
        raise RatingError("The upload was interrupted.", http_status=400) from None
    except (FormParserError, ValueError) as error:
        if isinstance(error, RatingError):
            raise
        raise RatingError(
            f"The request body is not valid multipart/form-data ({error}).", http_status=400
        ) from None
    finally:
        receiver.close()
