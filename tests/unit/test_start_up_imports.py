"""The `telequeue` command starts on what it needs: no Celery worker app, no task modules, no
rich, no Flower or dev helpers at import (they load in the commands that use them); and
publishing a task loads only its own vendor's task modules. Timings are bench/p4_latency.py's
(BENCHMARKS.md, "P4: first row of a new job"), never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tasks.catalog import TASK_MODULES, VENDOR_TASK_MODULES, load_all
from tasks.operations import OPERATIONS

#: what no `telequeue` command needs before it runs: each is loaded by the commands that use it
#: (tasks.retry is settings' retry policy: tasks/ itself is allowed, its task machinery is not)
NOT_AT_IMPORT = ("workers.app", "workers.runtime.worker_runtime", "workers.metrics", "workers.flower", "flower",
                 "workers.dev", "prometheus_client", "celery", "tasks.operations", "tasks.chunk_task", *TASK_MODULES,
                 "rich")


def modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_importing_the_cli_loads_no_worker_app_tasks_rich_or_flower():
    modules = modules_after("import workers.cli.commands")
    assert "workers.cli.commands" in modules and "typer" in modules  # the probe sees what it imported
    assert loaded(modules, NOT_AT_IMPORT) == []


@pytest.mark.parametrize("vendor", sorted(VENDOR_TASK_MODULES))
def test_a_vendors_task_modules_declare_all_its_operations(vendor):
    # SecretRefAMQP looks a task's secret fields up after tasks.catalog.load_for(name): the
    # modules listed for the vendor must declare every operation of that vendor.
    load_all()
    expected = sorted(name for name, op in OPERATIONS.items() if op.vendor == vendor)
    assert expected, f"no {vendor} operation at all"
    probe = (f"import json\nfrom tasks.catalog import load_for\nfrom tasks.operations import OPERATIONS\n"
             f"load_for('{vendor}.any.thing')\nprint(json.dumps(sorted(OPERATIONS)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    declared = json.loads(done.stdout.splitlines()[-1])
    assert sorted(name for name in declared if name.startswith(vendor + ".")) == expected


def test_a_name_of_no_vendor_loads_no_task_module():
    modules = modules_after("from tasks.catalog import load_for\nload_for('celery.backend_cleanup')")
    assert loaded(modules, TASK_MODULES) == []


def test_the_campaign_kind_and_the_ringostat_task_modules_load_no_http_stack():
    # vendors.ringostat loads its clients (requests) at their first use; vendors.deadline's
    # within() is requests-free, its adapter lives in vendors.deadline_adapter
    modules = modules_after("import workers.jobs.kinds.ringostat_campaign, tasks.ringostat, tasks.ringostat_minicrm")
    assert "vendors.ringostat.models" in modules and "tasks.chunk_runner" in modules
    assert loaded(modules, ("requests", "urllib3", "vendors.http", "vendors.deadline_adapter", "vendors.direct")) == []


def test_the_obzvonilka_kind_and_task_module_load_no_http_stack():
    # vendors.obzvonilka loads its client (requests) at its first use; tasks.reconcile (which
    # every task module imports) loads vendors.pozvonim only in the Pozvonim lookup
    modules = modules_after("import workers.jobs.kinds.obzvonilka_contacts, tasks.obzvonilka")
    assert "vendors.obzvonilka.models" in modules and "tasks.reconcile" in modules
    assert loaded(modules, ("requests", "urllib3", "vendors.http", "vendors.deadline_adapter", "vendors.pozvonim",
                            "vendors.obzvonilka.client")) == []


def test_every_name_of_the_obzvonilka_package_is_there_when_asked_for():
    import vendors.obzvonilka as package
    from vendors.obzvonilka import client

    assert {name: getattr(package, name) for name in package.__all__}["ObzvonilkaClient"] is client.ObzvonilkaClient
    assert package.VENDOR == client.VENDOR == "obzvonilka"
    with pytest.raises(AttributeError):
        package.NoSuchName


def test_every_name_of_the_ringostat_package_is_there_when_asked_for():
    import vendors.ringostat as package
    from vendors.ringostat import client, minicrm

    assert {name: getattr(package, name) for name in package.__all__}["RingostatApi"] is minicrm.RingostatApi
    assert package.RingostatClient is client.RingostatClient
    with pytest.raises(AttributeError):
        package.NoSuchName
