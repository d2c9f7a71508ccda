"""`telequeue load KIND ... --via URL`: hand the file to a running loader, Flower's `POST /api/jobs`.

A new `telequeue` process spends ~350 ms importing the libraries a load needs (pydantic-settings,
redis-py, Celery, typer, phonenumbers) before it can publish a row; a running Flower already
has them, and publishes a new job's first chunk ~15-30 ms after an upload starts (BENCHMARKS.md,
"Issue 11, fourth session"). So this module is stdlib only, and `workers.cli.main` runs it
before anything else is imported: the upload goes out, the loader reads and enqueues the
file, and only then, to follow the job, does the CLI import the rest (workers.cli.commands,
through the `follow` its caller passes).

What the CLI's own load does is kept: the same options (as Flower's form fields), the job id on
stdout with `--detach` and an exit once the file is enqueued, otherwise the progress bar and the
summary; exit 0 once every row is accounted for, else 1 with a one-line reason. Credentials come
from the environment only (TELEQUEUE_LOAD_VIA_AUTH), never from the command line or the URL.
`--resume` reads the file here: such a load runs in this process, whatever --via says.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import sys
import time
import uuid
from typing import Callable, Iterator, NamedTuple
from urllib.parse import quote, urlsplit

from workers.cli.sigterm import terminate_like_interrupt  # stdlib only, as this module

ENV_URL = "TELEQUEUE_LOAD_VIA"
ENV_AUTH = "TELEQUEUE_LOAD_VIA_AUTH"
REQUIRED, OPTIONAL = True, False
#: `telequeue load KIND` options passed on as the upload's form fields (`--phone-column` -> phone_column),
#: each with whether the command requires it (a load without it is the full CLI's usage error, exit 2,
#: before any upload); tests/unit/test_cli_via.py checks them against the typer commands and Flower's forms
KIND_OPTIONS = {
    "ringostat-campaign": {"--campaign": REQUIRED, "--account": OPTIONAL, "--region": OPTIONAL,
                           "--phone-column": OPTIONAL, "--name-column": OPTIONAL},
    "ringostat-contacts": {"--account": OPTIONAL, "--batch-size": OPTIONAL},
    "obzvonilka-contacts": {"--base": REQUIRED, "--account": OPTIONAL, "--region": OPTIONAL},
}
BLOCK = 64 * 1024
TIMEOUT_S = 60.0
ENQUEUED_POLL_S = 0.2


def field_name(option: str) -> str:
    """An option's form field (and the typer parameter's name): `--phone-column` -> phone_column."""
    return option[2:].replace("-", "_")


class ViaError(Exception):
    """The loader could not be reached or refused the load; the message is one line."""


class LoaderClosed(ViaError):
    """The connection broke after it was made, with no answer to read."""


class Handover(NamedTuple):  # not a dataclass: dataclasses imports inspect, ~5 ms of a ~60 ms first row
    url: str
    kind: str
    file: str
    fields: dict[str, str]
    detach: bool = False
    timeout_s: float | None = None


def request_from(argv: list[str], environ: dict[str, str]) -> Handover | None:
    """`load KIND [OPTIONS] FILE` with --via (or TELEQUEUE_LOAD_VIA) as a Handover; None when the
    full CLI should take argv: another command, no loader named, --help, --resume, a required
    option missing, or anything this plain reading does not know (the full CLI then answers as
    usual, usage errors included)."""
    if len(argv) < 2 or argv[0] != "load" or argv[1] not in KIND_OPTIONS:
        return None
    known = KIND_OPTIONS[argv[1]]
    url, files, fields, detach, timeout = environ.get(ENV_URL, ""), [], {}, False, None
    tokens = iter(argv[2:])
    for token in tokens:
        if not token.startswith("-"):
            files.append(token)
            continue
        if not token.startswith("--"):
            return None  # -h and the like: the full CLI's answer
        name, has_value, value = token.partition("=")
        if name == "--detach" and not has_value:
            detach = True
            continue
        if name not in (*known, "--via", "--timeout"):
            return None  # --help, --resume, a typo: the full CLI's answer
        if not has_value:
            value = next(tokens, None)
            if value is None:
                return None
        if name == "--via":
            url = value
        elif name == "--timeout":
            try:
                timeout = float(value)
            except ValueError:
                return None
        else:
            fields[field_name(name)] = value
    if not url or len(files) != 1:
        return None
    if any(needed and field_name(option) not in fields for option, needed in known.items()):
        return None  # the full CLI's usage error (exit 2), as without --via, before reading or sending anything
    return Handover(url=url, kind=argv[1], file=files[0], fields=fields, detach=detach, timeout_s=timeout)


def hand_over(request: Handover, follow: Callable[[str, float | None], int],
              environ: dict[str, str] | None = None) -> int:
    """Upload, then what the CLI's load does once its job exists; returns the exit code. Without
    --detach, `follow(job_id, timeout_s)` shows the job to its end (commands.follow_handed_over:
    passed in, so that nothing of the CLI is imported before the upload)."""
    # SIGTERM (a process manager, `kill`) is Ctrl-C here too, as in the full CLI: one line, exit 130
    terminate_like_interrupt()
    environ = os.environ if environ is None else environ
    job_id = loader = None
    try:
        with Loader(request.url, environ.get(ENV_AUTH)) as loader:
            job_id = loader.upload(request.kind, request.fields, request.file)
            if request.detach:
                print(job_id, flush=True)  # at once, as the CLI's own --detach
                status = loader.wait_enqueued(job_id)
                if status.get("aborted"):
                    return _error(f"{status.get('error') or 'loading stopped early'} (job {job_id} ends as aborted: "
                                  f"the rows enqueued before this are still sent; the same command without --via, "
                                  f"with --resume {job_id}, goes on after them)")
                return 0
    except (ViaError, OSError) as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return _interrupted(job_id, uploaded=loader is not None and loader.uploaded)
    try:
        return follow(job_id, request.timeout_s)  # now the CLI's libraries: the job is in the loader's hands
    except KeyboardInterrupt:  # before follow's own handling: while importing the CLI, say
        return _interrupted(job_id, uploaded=True)


def _interrupted(job_id: str | None, *, uploaded: bool) -> int:
    """Ctrl-C or SIGTERM: an upload cut short starts no job; one sent whole may have; a job made goes on."""
    if job_id:
        return _error(f"interrupted: job {job_id} goes on: telequeue job follow {job_id}", 130)
    if uploaded:
        return _error("interrupted after the upload, before the loader's answer: it may have created the job "
                      "(telequeue job list)", 130)
    return _error("interrupted: the upload was cut short, no job was started", 130)


def _error(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


class Loader:
    """One keep-alive HTTP connection to Flower: the upload, then the job's status."""

    def __init__(self, url: str, auth: str | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # not echoed: a URL that is not http(s) may be `user:password@host`, credentials and all
            raise ViaError(f"--via/{ENV_URL} must be an http:// or https:// URL of Flower "
                           f"(such as http://127.0.0.1:5555); the one given is not")
        if parts.username or parts.password:
            raise ViaError(f"--via/{ENV_URL}: put the credentials in {ENV_AUTH}=user:password, never in the URL")
        try:
            port = parts.port
        except ValueError:  # `:abc`, `:99999`
            raise ViaError(f"--via/{ENV_URL}: the port must be a number 0-65535") from None
        self.url = f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}"
        self._base = parts.path.rstrip("/")
        self.uploaded = False  # the upload's whole body was sent: the loader may have made its job
        self._headers = {"X-Requested-With": "telequeue"}
        if auth:
            self._headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._conn = kind(parts.hostname, port, timeout=TIMEOUT_S)

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc) -> None:
        self._conn.close()

    def upload(self, kind: str, fields: dict[str, str], path: str) -> str:
        """POST /api/jobs, the file streamed from disk; the job id once the loader has made the job."""
        boundary = uuid.uuid4().hex
        head = b"".join(_part(boundary, name, value) for name, value in {"kind": kind, **fields}.items())
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{_quoted(os.path.basename(path))}"\r\nContent-Type: text/csv\r\n\r\n').encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        with open(path, "rb") as stream:  # before connecting: a missing file is the CLI's own error
            size = os.fstat(stream.fileno()).st_size
            # Flower drops an upload over its limit: a reset, or a bare 400
            too_big = f": is the file ({size:,} bytes) over the loader's TELEQUEUE_FLOWER_UPLOAD_MAX_BYTES?"
            try:
                reply, body = self._request("POST", "/api/jobs", _body(head, stream, size, tail), {
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(len(head) + size + len(tail))})
            except LoaderClosed as exc:
                raise ViaError(f"{exc}{too_big}") from None
        if 200 <= reply.status < 300 and reply.status != 202:  # Flower's is 202 or a refusal
            raise ViaError(f"{self._not_flower()} (it answered {reply.status} {reply.reason})")
        if reply.status != 202:
            raise ViaError(self._refusal(reply, body, too_big if reply.status == 400 else ""))
        job_id = self._answer(body, "job_id")
        if not isinstance(job_id, str):
            raise ViaError(self._not_flower())
        return job_id

    def wait_enqueued(self, job_id: str) -> dict:
        """The job's status once the loader has read and enqueued the whole file."""
        while True:
            try:
                reply, body = self._request("GET", f"/api/jobs/{quote(job_id)}")
            except LoaderClosed:  # an idle keep-alive connection it closed: once more, on a new one
                reply, body = self._request("GET", f"/api/jobs/{quote(job_id)}")
            if reply.status != 200:
                raise ViaError(self._refusal(reply, body))
            status = self._answer(body, "job")
            if not isinstance(status, dict):
                raise ViaError(self._not_flower())
            if status.get("produced"):
                return status
            time.sleep(ENQUEUED_POLL_S)

    def _request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None):
        try:
            if self._conn.sock is None:
                self._conn.connect()
                # the upload's head and the file go in separate writes: without this, Nagle and
                # delayed ACKs hold the second ~40 ms (ARCHITECTURE.md, facts measured)
                self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            self._conn.close()
            raise ViaError(f"cannot reach the loader at {self.url}: {exc}") from None
        try:
            try:
                self._conn.request(method, self._base + path, body, {**self._headers, **(headers or {})})
                self.uploaded = self.uploaded or method == "POST"
            except (BrokenPipeError, ConnectionResetError):
                pass  # Flower answers a refusal (401) before the body and closes: read that answer
            reply = self._conn.getresponse()
            return reply, reply.read()
        except TimeoutError:  # not a dropped upload: no hint at the upload limit
            self._conn.close()
            raise ViaError(f"no answer from the loader at {self.url} in {TIMEOUT_S:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            raise LoaderClosed(f"the loader at {self.url} closed the connection "
                               f"({exc or type(exc).__name__})") from None

    def _answer(self, body: bytes, key: str):
        """`key` of a JSON answer; a ViaError when the answer is not a telequeue Flower's."""
        try:
            return json.loads(body)[key]
        except (ValueError, KeyError, TypeError, IndexError):  # JSONDecodeError is a ValueError
            raise ViaError(self._not_flower()) from None

    def _not_flower(self) -> str:
        return f"not a telequeue Flower at {self.url}"  # self.url: scheme, host and port only

    def _refusal(self, reply, body: bytes, hint: str = "") -> str:
        if reply.status == 401:
            return f"the loader at {self.url} refused the credentials (401): set {ENV_AUTH}=user:password"
        try:
            return json.loads(body)["error"]  # Flower's own one-line reason
        except (ValueError, KeyError, TypeError):
            return f"the loader at {self.url} answered {reply.status} {reply.reason}{hint}"


def _part(boundary: str, name: str, value: str) -> bytes:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def _quoted(name: str) -> str:
    """A file name in a Content-Disposition header: UTF-8 as it is (RFC 7578), quotes escaped,
    no line breaks; the job records it as its file name (Flower's temporary copy has a safe one),
    so that --resume of this file finds it the same."""
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def _body(head: bytes, stream, size: int, tail: bytes) -> Iterator[bytes]:
    """The upload's body: exactly `size` bytes of the file (its Content-Length share, its size when
    opened); a file that comes up short (changed while it is sent) is a ViaError, not a body that
    leaves Flower waiting for the bytes announced."""
    yield head
    left = size
    while left > 0:
        block = stream.read(min(BLOCK, left))
        if not block:
            raise ViaError(f"the file changed while it was sent: it ended after {size - left:,} of its {size:,} bytes")
        left -= len(block)
        yield block
    yield tail
