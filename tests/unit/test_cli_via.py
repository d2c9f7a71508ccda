"""workers.cli.via's plain reading of `telequeue load ... --via URL`: what it hands over, what it
leaves to the full CLI, and that its option table is the CLI's and Flower's."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from workers.cli.via import ENV_URL, KIND_OPTIONS, Handover, Loader, ViaError, request_from

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
