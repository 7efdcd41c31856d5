"""Receiving uploads safely: a request size limit and a streaming multipart spool.

`BodySizeLimitMiddleware` answers 413 from ``Content-Length`` before the app
reads a byte, and again while the body streams in when the length is unknown
or a lie. `receive_form` streams a multipart body straight into files in a
private temporary folder (mode 0700), capping each file and each field, and
hashing files as they arrive. The caller removes the folder (`Spool.remove`).
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than ``max_body_bytes`` with 413 (pure ASGI).

    Parameters
    ----------
    app : ASGI app
        The app to protect.
    max_body_bytes : int
        The limit, bytes.
    per_file_mb : int
        The per-file limit, only to word the refusal.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, per_file_mb: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.detail = (
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
            await self._refuse(send, htmx=htmx)
            return

        received = 0
        too_large = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise RatingError(self.detail, http_status=413)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                return  # the app's answer to a cut-off body is replaced by ours
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except RatingError:
            if not too_large:
                raise
        if too_large and not response_started:
            await self._refuse(send, htmx=htmx)

    async def _refuse(self, send: Send, *, htmx: bool) -> None:
        body, content_type = _error_body(self.detail, htmx=htmx)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class SpooledFile:
    """An uploaded file written to the spool folder."""

    path: Path
    filename: str | None
    size_bytes: int = 0
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
        on_file: Callable[[str, SpooledFile], None] | None = None,
    ) -> None:
        self.spool = spool
        self.on_file = on_file
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
                filename=None if filename is None else filename.decode("utf-8", "replace"),
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
            if self.on_file is not None:
                self.on_file(self._name, self._file)
        elif self._name not in self.spool.fields:
            try:
                self.spool.fields[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise RatingError(f"The form field {self._name!r} is not UTF-8 text.") from None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def receive_form(
    request: Request,
    spool: Spool,
    *,
    file_fields: tuple[str, ...],
    max_file_bytes: int,
    on_file: Callable[[str, SpooledFile], None] | None = None,
) -> None:
    """Stream the request's multipart body into `spool`: files to disk, fields to text.

    ``on_file(name, file)`` is called as soon as each file has been received whole.

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
        spool, file_fields=file_fields, max_file_bytes=max_file_bytes, on_file=on_file
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
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
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
