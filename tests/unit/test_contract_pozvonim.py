"""Contract: every method of the Pozvonim doc is a registered task, and nothing else is claimed.

The doc lists each method as its path on one line and "— <title><description>" on the next;
paths repeat (/sites is both list and create), so an operation is its path plus its title.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from pydantic import BaseModel

import tasks.pozvonim  # noqa: F401  (registers the operations)
from sandbox.pozvonim import METHODS
from tasks.operations import OPERATIONS

DOC = Path(__file__).resolve().parents[3] / "shared" / "vendor-docs" / "pozvonim-api-v2u.txt"
#: a path line followed by its "— title" line; the alias mention "/payments/contributors/:id\n." is not one
OPERATION_LINE = re.compile(r"^(/\S+)\n— ([^\n]*)", re.MULTILINE)

#: as written in the doc -> task
CONTRACT = {
    "/sites\n— Список проектов": "pozvonim.sites.list",
    "/sites\n— Создание проекта": "pozvonim.sites.create",
    "/sites/:id\n— Получение проекта": "pozvonim.sites.get",
    "/sites/:id\n— Обновление проекта": "pozvonim.sites.update",
    "/sites/:id\n— Удаление проекта": "pozvonim.sites.delete",
    "/server/time/now\n— Получение информации о времени на сервере": "pozvonim.server_time.now",
    "/sites/:id/call\n— Выполнение звонка": "pozvonim.calls.now",
    "/sites/:id/call/delayed\n— Заказ отложенного звонка": "pozvonim.calls.delayed",
    "/widget\n— Список виджетов": "pozvonim.widgets.list",
    "/widget/:id\n— Получение настроек виджета": "pozvonim.widgets.get",
    "/calls\n— Список звонков": "pozvonim.calls.list",
    "/calls/:id\n— Получение звонка": "pozvonim.calls.get",
    "/profile\n— Получение профиля": "pozvonim.profile.get",
    "/profile\n— Изменение профиля": "pozvonim.profile.update",
    "/payments/contributors/:id\n— Перевод средств клиенту студии": "pozvonim.payments.transfer",
    "/contributors\n— Список клиентов студии": "pozvonim.contributors.list",
    "/contributors\n— Создание клиента студии": "pozvonim.contributors.create",
    "/contributors/:id\n— Получение профиля клиента": "pozvonim.contributors.get",
    "/contributors/sites\n— Создание клиента студии и проекта": "pozvonim.contributors.create_with_site",
    "/contributors/:id/sites\n— Список проектов клиента": "pozvonim.contributor_sites.list",
    "/contributors/:id/sites\n— Создание проекта клиента": "pozvonim.contributor_sites.create",
    "/contributors/:id/sites/:id\n— Получение проекта": "pozvonim.contributor_sites.get",
    "/contributors/:id/sites/:id\n— Обновление проекта": "pozvonim.contributor_sites.update",
    "/contributors/:id/sites/:id\n— Удаление проекта": "pozvonim.contributor_sites.delete",
    "/contributors/:id/calls\n— Список звонков": "pozvonim.contributor_calls.list",
    "/contributors/:id/calls/:id\n— Получение звонка": "pozvonim.contributor_calls.get",
    "/contributors/:id/payments\n— Перевод средств клиенту": "pozvonim.contributor_payments.transfer",
}


@pytest.fixture(scope="module")
def doc_operations() -> list[tuple[str, str]]:
    if not DOC.parent.is_dir():
        pytest.skip(f"vendor docs folder {DOC.parent} is absent: the contract cannot be checked here")
    return OPERATION_LINE.findall(DOC.read_text(encoding="utf-8"))


def test_every_contract_string_is_in_the_doc(doc_operations):
    text = DOC.read_text(encoding="utf-8")
    assert [entry for entry in CONTRACT if entry not in text] == []


def test_the_contract_covers_each_doc_operation_exactly_once(doc_operations):
    assert len(CONTRACT) == len(doc_operations) == 27
    for path, line in doc_operations:
        entries = [e for e in CONTRACT if e.split("\n— ")[0] == path and line.startswith(e.split("\n— ")[1])]
        assert len(entries) == 1, (path, line, entries)


def test_every_task_is_registered_with_a_payload_model():
    for task in CONTRACT.values():
        assert task in OPERATIONS, task
        assert issubclass(OPERATIONS[task].payload, BaseModel)
    assert len(set(CONTRACT.values())) == len(CONTRACT)
    assert {name for name in OPERATIONS if name.startswith("pozvonim.")} == set(CONTRACT.values())


def test_the_sandbox_serves_each_doc_path_as_often_as_the_doc_lists_it(doc_operations):
    assert Counter(doc_path for _, doc_path, _, _ in METHODS) == Counter(path for path, _ in doc_operations)
