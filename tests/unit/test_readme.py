"""The README's task table is the code's: a new or renamed task without a README row fails here."""

from __future__ import annotations

from pathlib import Path

from workers.dev.tasktable import BEGIN, END, METHODS_BEGIN, METHODS_END, render, render_pozvonim_methods

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_task_table_matches_the_code():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), "regenerate it: python -m workers.dev.tasktable"


def test_every_operation_and_chunk_task_is_listed():
    table = render()
    from tasks.operations import OPERATIONS
    from workers.jobs.registry import KINDS

    for name in [*OPERATIONS, *(kind.task_name for kind in KINDS.values())]:
        assert f"| `{name}` |" in table
    assert len(OPERATIONS) == 48  # 3 Ringostat + 27 Pozvonim + 9 Obzvonilka + 9 SalesScriptPrompter


def test_readme_pozvonim_methods_table_matches_the_code():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(METHODS_BEGIN), text.index(METHODS_END) + len(METHODS_END)
    assert text[start:end] == render_pozvonim_methods(), "regenerate it: python -m workers.dev.tasktable --pozvonim-methods"
