"""POST /api/jobs: a bulk load from an uploaded file, streamed to disk, enqueued in a thread.

The multipart body is parsed as it arrives (`multipart.PushMultipartParser`): form
fields are kept (small, bounded), the file part is written to a temporary folder, so
Flower never holds an upload whole, whatever its size (up to
`TELEQUEUE_FLOWER_UPLOAD_MAX_BYTES`). Once the body is in, the kind's load function (the
CLI's: header checks, job, producer) runs in a thread of its own. The answer waits only
until the job exists: 202 with its id while the rows are still being enqueued, or 400
with a one-line reason when the file is unusable as a whole, in which case no job exists.
The temporary folder goes when the thread ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import tempfile
import threading

import multipart
from tornado import web
from tornado.ioloop import IOLoop

from workers.flower.base import ApiHandler
from workers.flower.loads import BadRequest, prepare_load
from workers.jobs.intake import CsvFormatError
from workers.settings import UnknownAccount, get_settings

logger = logging.getLogger(__name__)

MAX_FIELDS = 16
MAX_FIELD_BYTES = 1024
#: the name of Flower's temporary copy of an upload (its .jsonl suffix selects JSON lines)
SAFE_NAME = re.compile(r"[^\w.-]+")
#: taken out of the file's own name, the job's (C0 and C1 controls: no line breaks in a target or a log line)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: the longest own name kept, in characters (a form's header is bounded by Tornado's; this bounds the job's record)
MAX_NAME_CHARS = 255


def own_name(sent: str) -> str:
    """The uploaded file's own name, as the job records it: what `telequeue load` names it
    (Path(FILE).name), so that --resume of that file finds it the same; only the folders
    (`/` or `\\`, as an old browser sends a Windows path) and control characters are taken out."""
    name = CONTROL.sub("", sent.replace("\\", "/").rsplit("/", 1)[-1]).strip()[:MAX_NAME_CHARS]
    return name if name.strip(".") else "upload.csv"


class UploadForm:
    """Feeds a multipart body through a push parser: fields in memory, the file to `folder`."""

    def __init__(self, boundary: str, folder: str) -> None:
        self.fields: dict[str, str] = {}
        self.path: str | None = None  # Flower's temporary copy, under a safe name
        self.name: str | None = None  # the file's own name (own_name), the job's
        self._folder = folder
        self._parser = multipart.PushMultipartParser(boundary, max_segment_count=MAX_FIELDS + 1)
        self._segment: multipart.MultipartSegment | None = None
        self._value = bytearray()
        self._file = None

    def feed(self, chunk: bytes) -> None:
        try:
            for event in self._parser.parse(chunk):
                self._on_event(event)
        except multipart.MultipartError as exc:
            raise BadRequest(f"not a readable multipart/form-data body: {exc}") from None

    def finish(self) -> dict[str, str]:
        self.feed(b"")
        if not self._parser.closed:
            raise BadRequest("the multipart body ended early")
        if self.path is None:
            raise BadRequest("no file: send the CSV as a file part named `file`")
        return self.fields

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _on_event(self, event) -> None:
        if isinstance(event, multipart.MultipartSegment):
            self._segment = event
            if event.filename is not None:
                self._open_file(event)
        elif event:  # a block of the current segment
            if self._file is not None:
                self._file.write(event)
            else:
                self._value += event
                if len(self._value) > MAX_FIELD_BYTES:
                    raise BadRequest(f"form field {self._segment.name!r} is longer than {MAX_FIELD_BYTES} bytes")
        else:  # None: the segment ended
            self._end_segment()

    def _open_file(self, segment) -> None:
        if self.path is not None:
            raise BadRequest("one file per upload")
        self.name = own_name(segment.filename or "")
        safe = SAFE_NAME.sub("_", self.name)[-100:].lstrip(".") or "upload.csv"
        self.path = os.path.join(self._folder, safe)
        self._file = open(self.path, "wb")

    def _end_segment(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        else:
            try:
                self.fields[self._segment.name] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"form field {self._segment.name!r} is not UTF-8") from None
        self._value = bytearray()


@web.stream_request_body
class UploadHandler(ApiHandler):
    _form: UploadForm | None = None
    _folder: str | None = None
    _error: BadRequest | None = None

    def prepare(self) -> None:
        super().prepare()  # credentials before a single byte is stored
        if self.request.method != "POST":
            return
        self.request.connection.set_max_body_size(get_settings().flower_upload_max_bytes)
        content_type, params = multipart.parse_options_header(self.request.headers.get("Content-Type", ""))
        if content_type != "multipart/form-data" or not params.get("boundary"):
            self.fail(400, "send multipart/form-data: the fields `kind` and its options, and the file as `file`")
        self._folder = tempfile.mkdtemp(prefix="telequeue-upload-")
        self._form = UploadForm(params["boundary"], self._folder)

    def data_received(self, chunk: bytes) -> None:
        # An error raised here would only drop the connection: keep it for post() to answer,
        # and read (without storing) the rest of the body.
        if self._form is not None and self._error is None:
            try:
                self._form.feed(chunk)
            except BadRequest as exc:
                self._error = exc
                self._form.close()

    @web.authenticated
    async def post(self) -> None:
        folder, self._folder = self._folder, None  # from here on, the load's thread removes it
        try:
            if self._error is not None:
                raise self._error
            fields = self._form.finish()
            # Flower's Celery app is workers.app's: the same publish as `telequeue load`.
            load = prepare_load(fields, lambda name, kwargs, **options: self.capp.send_task(name, kwargs=kwargs,
                                                                                            **options),
                                file_name=self._form.name)
        except BadRequest as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.fail(400, str(exc))
        try:
            job_id = await start_load(load, self._form.path, folder)
        except (CsvFormatError, UnknownAccount, ValueError) as exc:
            self.fail(400, _one_line(exc, folder, self._form.path, self._form.name))
        self.set_status(202)
        self.write({"job_id": job_id, "state": "loading",
                    "status": self.reverse_url("api_job", job_id), "page": self.reverse_url("job", job_id)})

    def on_finish(self) -> None:
        self._cleanup()

    def on_connection_close(self) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._form is not None:
            self._form.close()
        if self._folder is not None:  # the body never completed: no load started
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def start_load(load, path: str, folder: str) -> asyncio.Future:
    """Run `load(path, on_created)` in a new thread; the future holds the job id as soon as the
    job exists, or the error that stopped it before. The thread is not a daemon: a Flower
    stopped mid-load finishes enqueueing first, so the job is never left half-counted."""
    loop = IOLoop.current()
    created: asyncio.Future = asyncio.get_running_loop().create_future()

    def settle(job_id: str | None, error: BaseException | None) -> None:
        if created.done():
            return
        if error is not None:
            created.set_exception(error)
        else:
            created.set_result(job_id)

    def run() -> None:
        try:
            load(path, lambda job_id: loop.add_callback(settle, job_id, None))
        except BaseException as exc:  # after creation start_job has marked the job aborted
            logger.warning("upload load stopped: %s", _one_line(exc, folder))
            loop.add_callback(settle, None, exc)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    threading.Thread(target=run, name="telequeue-upload", daemon=False).start()
    return created


def _one_line(exc: Exception, folder: str, path: str | None = None, name: str | None = None) -> str:
    # The loaders name the file by its path: show the caller its own file name, not our copy's.
    message = str(exc.args[0]) if exc.args else str(exc)
    if path and name:
        message = message.replace(path, name)
    return " ".join(message.replace(folder + os.sep, "").split())
