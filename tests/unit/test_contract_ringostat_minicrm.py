"""Contract: every operation of both Ringostat docs (minicrm, Power Dialer) is a registered task,
at the doc's path, with the doc's body fields; the sandbox serves each path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import workers.app  # noqa: F401  (registers every task)
from sandbox import ringostat as sandbox_ringostat
from sandbox import ringostat_minicrm as sandbox_minicrm
from tasks.operations import OPERATIONS
from vendors import ringostat

DOCS = Path(__file__).resolve().parents[3] / "shared" / "vendor-docs"
HOST = "https://api.ringostat.net"

# doc file -> {the doc's request URL -> task}
OPERATIONS_BY_DOC = {
    "ringostat-minicrm-contacts-sync.txt": {
        f"{HOST}/minicrm/contacts/sync": "ringostat.contacts.sync",
        f"{HOST}/minicrm/organizations/sync": "ringostat.organizations.sync",
    },
    "ringostat-power-dialer-campaign-rows.txt": {
        f"{HOST}/power-dialer/campaigns/campaign-rows": "ringostat.campaign_rows.add",
    },
}
# The client's path for each doc URL: base_url is the host, as settings say.
CLIENT_PATHS = {
    f"{HOST}/minicrm/contacts/sync": ringostat.CONTACTS_SYNC_PATH,
    f"{HOST}/minicrm/organizations/sync": ringostat.ORGANIZATIONS_SYNC_PATH,
    f"{HOST}/power-dialer/campaigns/campaign-rows": ringostat.CAMPAIGN_ROWS_PATH,
}
URL = re.compile(re.escape(HOST) + r"/[\w/-]+")
# The body tables of the minicrm doc, as written there.
CONTACT_FIELDS = ("projectId", "fullName", "origin", "externalId", "leadId", "responsible", "staffId", "contactLink",
                  "leadLink", "dealLink", "googleClientId", "contactDirections", "organizations")
DIRECTION_FIELDS = ("type", "name", "value")
ORGANIZATION_FIELDS = ("projectId", "name", "externalId", "origin")
NULLABLE_FIELDS = ("externalId", "leadId", "staffId", "contactLink", "leadLink", "dealLink", "googleClientId",
                   "organizations")


def read_doc(name: str) -> str:
    if not DOCS.is_dir():
        pytest.skip(f"vendor docs not found at {DOCS} (they live beside the project, in shared/vendor-docs)")
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", OPERATIONS_BY_DOC)
def test_every_doc_operation_is_in_the_table_and_no_more(name):
    documented = set(URL.findall(read_doc(name)))
    assert len(documented) == len(OPERATIONS_BY_DOC[name])
    assert documented == set(OPERATIONS_BY_DOC[name])


@pytest.mark.parametrize("name, url, task", [(n, u, t) for n, ops in OPERATIONS_BY_DOC.items() for u, t in ops.items()])
def test_each_operation_is_a_registered_task_at_the_docs_path(name, url, task):
    assert "POST" in read_doc(name) and url in read_doc(name)
    operation = OPERATIONS[task]
    assert operation.vendor == "ringostat" and "account" in operation.payload.model_fields
    assert HOST + CLIENT_PATHS[url] == url


def test_the_sandbox_serves_every_path_under_the_vendor_prefix():
    served = {route.path for plugin in (sandbox_ringostat.PLUGIN, sandbox_minicrm.PLUGIN) for route in plugin.routes}
    assert {"/ringostat" + path for path in CLIENT_PATHS.values()} <= served


def test_the_models_carry_the_docs_body_fields():
    doc = read_doc("ringostat-minicrm-contacts-sync.txt")
    models = {ringostat.Contact: CONTACT_FIELDS, ringostat.ContactDirection: DIRECTION_FIELDS,
              ringostat.Organization: ORGANIZATION_FIELDS}
    for model, fields in models.items():
        assert all(f"\n{field}\n" in doc for field in fields)
        assert {f.alias or name for name, f in model.model_fields.items()} == set(fields)


def test_required_but_nullable_fields_have_no_default():
    contact = ringostat.Contact.model_fields
    by_alias = {f.alias or name: f for name, f in contact.items()}
    assert all(by_alias[field].is_required() for field in CONTACT_FIELDS)
    assert all(type(None) in by_alias[field].annotation.__args__ for field in NULLABLE_FIELDS)
