"""Contract: every operation of the Obzvonilka doc is a registered task, the client calls the
doc's method and path, the sandbox serves it, and the models carry the doc's attributes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import workers.app  # noqa: F401  (registers every task)
from sandbox import obzvonilka as sandbox_obzvonilka
from tasks.operations import OPERATIONS
from vendors import obzvonilka
from vendors.obzvonilka import Contact, ContactBase, ContactFields, User

DOC = Path(__file__).resolve().parents[3] / "shared" / "vendor-docs" / "obzvonilka-rest-api.txt"

# The doc's "METHOD   /path" line (spaces collapsed) -> (task, the client's path for the doc's example ids)
OPERATIONS_IN_DOC = {
    "GET /api/contact_bases.json": ("obzvonilka.contact_bases.list", obzvonilka.BASES_PATH),
    "GET /api/contact_bases/1.json": ("obzvonilka.contact_bases.get", obzvonilka.BASE_PATH.format(base_id=1)),
    "GET /api/contact_bases/1/contacts.json": ("obzvonilka.contacts.list",
                                               obzvonilka.CONTACTS_PATH.format(base_id=1)),
    "GET /api/contact_bases/1/contacts/1.json": ("obzvonilka.contacts.get",
                                                 obzvonilka.CONTACT_PATH.format(base_id=1, contact_id=1)),
    "GET /api/contact_bases/1/contacts/find_by_external/code.json": (
        "obzvonilka.contacts.find_by_external_code", obzvonilka.FIND_BY_EXTERNAL_PATH.format(base_id=1, code="code")),
    "POST /api/contact_bases/1/contacts.json": ("obzvonilka.contacts.create",
                                                obzvonilka.CONTACTS_PATH.format(base_id=1)),
    "PATCH /api/contact_bases/1/contacts/1.json": ("obzvonilka.contacts.update",
                                                   obzvonilka.CONTACT_PATH.format(base_id=1, contact_id=1)),
    "GET /api/users.json": ("obzvonilka.users.list", obzvonilka.USERS_PATH),
    "GET /api/users/1.json": ("obzvonilka.users.get", obzvonilka.USER_PATH.format(user_id=1)),
}
OPERATION_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE)[ \t]+(/\S+)[ \t]*$", re.MULTILINE)


def read_doc() -> str:
    if not DOC.parent.is_dir():
        pytest.skip(f"vendor docs not found at {DOC.parent} (they live beside the project, in shared/vendor-docs)")
    # The doc pads "GET      /api/..." with no-break spaces: read them as spaces.
    return DOC.read_text(encoding="utf-8").replace("\xa0", " ")


def documented_operations() -> list[str]:
    return [f"{method} {path}" for method, path in OPERATION_LINE.findall(read_doc())]


def test_the_table_holds_every_operation_of_the_doc_and_no_more():
    assert len(documented_operations()) == len(OPERATIONS_IN_DOC) == 9
    assert set(documented_operations()) == set(OPERATIONS_IN_DOC)


@pytest.mark.parametrize("doc_line, task, client_path", [(line, *v) for line, v in OPERATIONS_IN_DOC.items()])
def test_each_operation_is_a_task_and_the_client_uses_the_docs_path(doc_line, task, client_path):
    method, path = doc_line.split(" ")
    assert re.search(rf"^{method}\s+{re.escape(path)}\s*$", read_doc(), re.MULTILINE)
    assert client_path == path
    operation = OPERATIONS[task]
    assert operation.vendor == "obzvonilka" and "account" in operation.payload.model_fields


def test_the_sandbox_serves_every_operation():
    served = [(route.method, route.path) for route in sandbox_obzvonilka.PLUGIN.routes]
    for line in OPERATIONS_IN_DOC:
        method, path = line.split(" ")
        assert any(m == method and re.fullmatch(_route_regex(p), "/obzvonilka" + path) for m, p in served), line


def _route_regex(route_path: str) -> str:
    # "{base_id:\d+}" and "{code}" become one path segment each; the rest is literal.
    parts = re.split(r"(\{[^}]+\})", route_path)
    return "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)


def test_the_models_carry_the_docs_attributes():
    doc = read_doc()
    attributes = {
        ContactBase: ("id", "auto_open_window_params", "deleted", "name", "parser_name", "parser_settings", "remark",
                      "select_from_last", "use_predictive_call"),
        Contact: ("id", "name", "address_string", "description", "email", "external_code", "www"),
        User: ("id", "account_enabled", "email", "name", "admin"),
    }
    for model, fields in attributes.items():
        assert all(f"• {field}:" in doc for field in fields)
        assert set(fields) <= set(model.model_fields)
    # "phone1, phone2...phone10" and "phone_remark1...phone_remark10"
    assert "phone1, phone2...phone10" in doc and "phone_remark1, phone_remark2...phone_remark10" in doc
    assert {f"phone{i}" for i in range(1, 11)} | {f"phone_remark{i}" for i in range(1, 11)} <= set(Contact.model_fields)
    assert ContactFields(name="abc", phone1="987654321").form() == {"contact[name]": "abc",
                                                                    "contact[phone1]": "987654321"}
