"""The Jobs tab's templates ship in the package (the image installs it, not the source tree)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_jobs_tab_template_is_package_data():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["workers"]
    templates = [p.relative_to(ROOT / "workers").as_posix() for p in (ROOT / "workers/flower/templates").iterdir()]
    assert templates
    for name in templates:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in globs), name
