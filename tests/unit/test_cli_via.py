"""workers.cli.via's plain reading of `telequeue load ... --via URL`: what it hands over, what it
leaves to the full CLI, and that its option table is the CLI's and Flower's."""

from __future__ import annotations

import http.server
import json
import re
import signal
import subprocess
import sys
import threading

import pytest

from workers.cli.via import ENV_URL, KIND_OPTIONS, Handover, Loader, ViaError, hand_over, request_from

URL = "http://flower:5555"


def test_a_load_with_via_is_handed_over_with_its_options_as_form_fields():
    request = request_from(["load", "ringostat-campaign", "--campaign", "456", "--phone-column=tel", "--detach",
                            "--via", URL, "--timeout", "5", "c.csv"], {})
    assert request == Handover(url=URL, kind="ringostat-campaign", file="c.csv",
                               fields={"campaign": "456", "phone_column": "tel"}, detach=True, timeout_s=5.0)


def test_the_loader_may_come_from_the_environment_and_the_command_line_wins():
    argv = ["load", "obzvonilka-contacts", "--base", "3", "c.csv"]
    assert request_from(argv, {ENV_URL: URL}).url == URL
    assert request_from([*argv, "--via=http://other:1"], {ENV_URL: URL}).url == "http://other:1"
    assert request_from(argv, {}) is None  # no loader named: the CLI loads it itself


@pytest.mark.parametrize("argv", [
    ["load", "ringostat-campaign", "--campaign", "1", "--help"],
    ["load", "ringostat-campaign", "--campaign", "1", "-h", "c.csv"],
    ["load", "ringostat-campaign", "--campaign", "1", "--", "c.csv"],
    ["load", "ringostat-campaign", "--campaign", "1", "--resume", "20260101-000000-abcdef", "c.csv"],  # reads it here
    ["load", "ringostat-campaign", "--campaign", "1", "--base", "2", "c.csv"],  # not this kind's option
    ["load", "ringostat-campaign", "--campaign", "1", "a.csv", "b.csv"],
    ["load", "ringostat-campaign", "--campaign", "1"],
    ["load", "ringostat-campaign", "c.csv", "--campaign"],
    ["load", "ringostat-campaign", "--campaign", "1", "--timeout", "soon", "c.csv"],
    ["load", "no-such-kind", "c.csv"],
    ["load", "ringostat-campaign", "--account", "a", "c.csv"],  # no --campaign: the full CLI's usage error
    ["load", "obzvonilka-contacts", "c.csv"],  # no --base
    ["job", "list"],
    [],
])
def test_what_the_plain_reading_does_not_know_goes_to_the_full_cli(argv):
    assert request_from(argv, {ENV_URL: URL}) is None


def test_the_option_table_is_the_cli_load_commands_and_flowers_forms():
    import typer.main

    from workers.cli.commands import load_cli
    from workers.flower.loads import LOADS

    group = typer.main.get_group(load_cli)
    cli_only = {"--detach", "--timeout", "--resume", "--via", "--help"}
    for kind, options in KIND_OPTIONS.items():
        command = group.commands[kind]
        names = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
        assert set(options) == names - cli_only, kind
        required = {opt for param in command.params if param.required for opt in param.opts if opt.startswith("--")}
        assert {option for option, needed in options.items() if needed} == required - {"--help"}, kind
        assert {o[2:].replace("-", "_") for o in options} == set(LOADS[kind].options.model_fields), kind
    assert set(KIND_OPTIONS) == set(group.commands) == set(LOADS)


@pytest.mark.parametrize("url", ["http://ops:secret@flower:5555", "ftp://flower", "flower:5555",
                                 "ftp://ops:secret@flower", "ops:secret@flower:5555", "https://ops:secret@flower:99x"])
def test_credentials_never_ride_in_the_url_and_the_url_is_http(url):
    with pytest.raises(ViaError) as caught:
        Loader(url, None)
    # the URL is never echoed: not its password, not its user name, not its host
    assert not {"secret", "ops", "flower"} & set(re.findall(r"\w+", str(caught.value))), caught.value


def test_the_hand_over_imports_only_the_standard_library():
    # What a handed-over load's process imports before its upload: nothing the CLI's start-up pays for
    probe = "import json, sys\nimport workers.cli.via\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "workers.cli.via" in modules
    heavy = ("typer", "click", "pydantic", "pydantic_settings", "redis", "celery", "kombu", "phonenumbers", "rich",
             "requests", "workers.settings", "workers.cli.commands")
    assert sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)) == []


class FakeLoader:
    """A local HTTP server answering POST /api/jobs and GET /api/jobs/ID as `answers` say:
    {method: (status, body bytes)}; `hold` (a threading.Event) keeps the POST's answer back until set."""

    def __init__(self, answers: dict[str, tuple[int, bytes]], hold: threading.Event | None = None) -> None:
        self.received = threading.Event()  # the whole upload's body was read

        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                fake.received.set()
                if hold is not None:
                    hold.wait(30)
                self._answer("POST")

            def do_GET(self) -> None:
                self._answer("GET")

            def _answer(self, method: str) -> None:
                status, body = answers[method]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up (the tests' own doing): no traceback on the test's stderr

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> FakeLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def handed(url: str, tmp_path, *, detach: bool = False, follow=lambda job_id, timeout_s: 0) -> int:
    (tmp_path / "c.csv").write_text("phone\n+380930000001\n", encoding="utf-8")
    request = Handover(url=url, kind="ringostat-campaign", file=str(tmp_path / "c.csv"), fields={"campaign": "1"},
                       detach=detach)
    return hand_over(request, follow, environ={})


@pytest.mark.parametrize("url", ["http://flower:abc", "http://flower:99999", "http://flower:-1"])
def test_a_port_that_is_not_one_is_a_one_line_error(url, capsys, tmp_path):
    assert handed(url, tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "port" in err, err


@pytest.mark.parametrize("post, get", [
    ((202, b"<html>hello</html>"), None), ((202, b'{"id": "x"}'), None), ((202, b"[1, 2]"), None),
    ((202, b'{"job_id": 7}'), None), ((200, b"ok"), None),
    ((202, b'{"job_id": "20260101-000000-abcdef"}'), (200, b"nope")),
    ((202, b'{"job_id": "20260101-000000-abcdef"}'), (200, b'{"job": 3}')),
    ((202, b'{"job_id": "20260101-000000-abcdef"}'), (200, b'{"jobs": {}}')),
])
def test_an_answer_that_is_not_a_telequeue_flowers_is_a_one_line_error(post, get, capsys, tmp_path):
    with FakeLoader({"POST": post, "GET": get or (404, b"")}) as loader:
        assert handed(loader.url, tmp_path, detach=True) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == f"error: not a telequeue Flower at {loader.url}" + (" (it answered 200 OK)" if post[0] == 200 else ""), err


def test_sigterm_after_the_upload_is_one_line_exit_130_saying_flower_may_have_made_the_job(tmp_path):
    # SIGTERM (a process manager, `kill`) as Ctrl-C: the upload is in, its answer not yet
    (tmp_path / "c.csv").write_text("phone\n+380930000001\n", encoding="utf-8")
    hold = threading.Event()
    with FakeLoader({"POST": (202, b'{"job_id": "20260101-000000-abcdef"}')}, hold=hold) as loader:
        proc = subprocess.Popen([sys.executable, "-m", "workers", "load", "ringostat-campaign", "--campaign", "1",
                                 "--via", loader.url, str(tmp_path / "c.csv")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert loader.received.wait(30)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            hold.set()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and err.startswith("error: interrupted") and "may have created the job" in err, err


def test_ctrl_c_while_following_the_job_is_one_line_exit_130_naming_the_job(capsys, tmp_path):
    def follow(job_id, timeout_s):
        raise KeyboardInterrupt  # as in importing the CLI's libraries, or before its own handling starts

    with FakeLoader({"POST": (202, b'{"job_id": "20260101-000000-abcdef"}')}) as loader:
        previous = signal.getsignal(signal.SIGTERM)
        try:
            assert handed(loader.url, tmp_path, follow=follow) == 130
        finally:
            signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "job 20260101-000000-abcdef goes on" in err, err


def test_a_loader_that_does_not_answer_in_time_is_said_so_not_blamed_on_the_upload_limit(monkeypatch, capsys,
                                                                                          tmp_path):
    import workers.cli.via

    monkeypatch.setattr(workers.cli.via, "TIMEOUT_S", 0.5)
    hold = threading.Event()
    with FakeLoader({"POST": (202, b'{"job_id": "20260101-000000-abcdef"}')}, hold=hold) as loader:
        try:
            assert handed(loader.url, tmp_path) == 1
        finally:
            hold.set()
    err = capsys.readouterr().err
    assert err == f"error: no answer from the loader at {loader.url} in 0.5 s\n", err


#: a value of each load option that its typer command accepts
SAMPLE = {"--campaign": "12", "--account": "acc2", "--region": "PL", "--phone-column": "tel", "--name-column": "fio2",
          "--batch-size": "50", "--base": "4"}


@pytest.mark.parametrize("kind", sorted(KIND_OPTIONS))
def test_the_full_cli_hands_over_every_option_of_the_kind(kind, monkeypatch):
    # `workers.cli.commands:main` with --via (not through workers.cli.main's fast path)
    from typer.testing import CliRunner

    import workers.cli.via
    from workers.cli.commands import cli

    handed_over = []
    monkeypatch.setattr(workers.cli.via, "hand_over", lambda request, follow: handed_over.append(request) or 0)
    args = [arg for option in KIND_OPTIONS[kind] for arg in (option, SAMPLE[option])]
    done = CliRunner().invoke(cli, ["load", kind, *args, "--via", URL, "--detach", "--timeout", "3", "c.csv"])
    assert done.exit_code == 0, done.output
    assert handed_over == [Handover(url=URL, kind=kind, file="c.csv", detach=True, timeout_s=3.0,
                                    fields={option[2:].replace("-", "_"): SAMPLE[option]
                                            for option in KIND_OPTIONS[kind]})]


def test_a_load_without_a_required_option_is_the_full_clis_usage_error_exit_2_before_any_upload(tmp_path):
    (tmp_path / "c.csv").write_text("phone\n+380930000001\n", encoding="utf-8")
    with FakeLoader({"POST": (202, b'{"job_id": "20260101-000000-abcdef"}')}) as loader:
        done = subprocess.run([sys.executable, "-m", "workers", "load", "ringostat-campaign", "--via", loader.url,
                               "--detach", str(tmp_path / "c.csv")], capture_output=True, text=True, timeout=60)
        assert not loader.received.is_set()  # nothing uploaded
    assert done.returncode == 2 and "--campaign" in done.stderr, done.stderr


def test_the_telequeue_console_script_is_workers_cli_main():
    # workers.cli.main hands a --via load over before the CLI's libraries are imported; the full CLI
    # (workers.cli.commands:main) would import them all first. The project's own pyproject is what counts
    # (the shared venv's installed script may predate it).
    import tomllib
    from pathlib import Path

    root = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["telequeue"] == "workers.cli:main"
    from workers.cli import main

    assert callable(main)


def test_the_upload_sends_exactly_the_size_it_announced_and_a_file_cut_short_is_an_error():
    # Content-Length is the file's size when opened: a file that grows or shrinks while it is sent
    import io

    from workers.cli.via import _body

    assert b"".join(_body(b"H", io.BytesIO(b"abcdef"), 4, b"T")) == b"HabcdT"  # grew: its first 4 bytes
    with pytest.raises(ViaError, match="changed while it was sent"):
        b"".join(_body(b"H", io.BytesIO(b"ab"), 4, b"T"))  # shrank


def test_sigterm_is_left_alone_outside_the_main_thread():
    # terminate_like_interrupt asks no `threading` first (the fast path's start-up): signal.signal's own refusal
    from workers.cli.sigterm import terminate_like_interrupt

    before, errors = signal.getsignal(signal.SIGTERM), []
    thread = threading.Thread(target=lambda: errors.append(terminate_like_interrupt()))
    thread.start()
    thread.join()
    assert errors == [None] and signal.getsignal(signal.SIGTERM) is before
