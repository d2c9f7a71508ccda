"""Contract: every operation of the SalesScriptPrompter API v2 doc is a registered task, served by the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import workers.app  # noqa: F401  (registers every task)
from sandbox import salesscriptprompter as sandbox_ssp
from tasks.operations import OPERATIONS

DOC = Path(__file__).resolve().parents[3] / "shared" / "vendor-docs" / "salesscriptprompter-api-v2.txt"

# The doc's `controller/method`, as its headings write it -> task.
OPERATIONS_BY_DOC = {
    "user/check": "salesscriptprompter.user.check",
    "user/list": "salesscriptprompter.user.list",
    "user/auth": "salesscriptprompter.user.auth",
    "script/list": "salesscriptprompter.script.list",
    "call/attach-record": "salesscriptprompter.call.attach_record",
    "field/list": "salesscriptprompter.field.list",
    "field/create": "salesscriptprompter.field.create",
    "field/update": "salesscriptprompter.field.update",
    "field/delete": "salesscriptprompter.field.delete",
}
# A heading names its operation in parentheses: "User list (user/list)".
HEADING = re.compile(r"\((\w+/[\w-]+)\)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def doc() -> str:
    if not DOC.parent.is_dir():
        pytest.skip(f"vendor docs not found at {DOC.parent} (they live beside the project, in shared/vendor-docs)")
    return DOC.read_text(encoding="utf-8")


def test_every_doc_operation_is_in_the_table_and_no_more(doc):
    documented = HEADING.findall(doc)
    assert len(documented) == len(OPERATIONS_BY_DOC)
    assert set(documented) == set(OPERATIONS_BY_DOC)


@pytest.mark.parametrize("route", OPERATIONS_BY_DOC)
def test_each_operation_is_a_request_url_of_the_doc(doc, route):
    assert f"integration/apiv2/{route}?key=" in doc


@pytest.mark.parametrize("route, task", OPERATIONS_BY_DOC.items())
def test_each_operation_is_a_registered_task_with_a_payload_model(route, task):
    operation = OPERATIONS[task]
    assert operation.vendor == "salesscriptprompter" and "account" in operation.payload.model_fields
    assert operation.doc


def test_the_sandbox_serves_every_operation():
    served = {route.path for route in sandbox_ssp.PLUGIN.routes}
    assert {f"{sandbox_ssp.PREFIX}/{route}" for route in OPERATIONS_BY_DOC} <= served


def test_field_types_are_the_docs(doc):
    from vendors.salesscriptprompter import FieldType

    assert "(possible values: string, number, date, boolean, in)" in doc
    assert FieldType.__args__ == ("string", "number", "date", "boolean", "in")
