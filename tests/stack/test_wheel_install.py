"""`pip install .` outside the repository: the wheel holds its data files, and the installed
`telequeue` runs, demo included, with no source tree in reach.

The wheel is built from a copy of the shipped folders (so nothing outside them can leak in)
and installed without dependencies into a fresh venv in a temporary folder; the project
venv's site-packages stands in for the dependencies through a .pth line (no download, no
resolver run: this checks what telequeue ships, not its dependency pins). The project's own
editable install is not seen there: a .pth line adds a folder to sys.path, and the `.pth`
files inside that folder (the editable finder's) are not run. About 10 s for the build and
the checks, plus ~35 s for the demo's run (its own Redis, sandbox, worker and Flower, and a
10,000-row load at 500 rows/s).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from workers.dev import devstack

#: the project root, wherever in tests/ this file lives
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
SHIPPED = ("pyproject.toml", "README.md", "vendors", "sandbox", "tasks", "workers")
EXAMPLE_ROWS = 10_000


def run(args: list, *, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def outside_env() -> dict[str, str]:
    """The environment without anything that points back at the repository or the test's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TELEQUEUE_", "PYTHON"))}


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SHIPPED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    # Build isolation fetches the build backend (setuptools>=68) from pip's configured index or cache.
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp / "dist", src], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("telequeue-*.whl")
    target = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", target], cwd=tmp)
    python = target / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
        cwd=tmp)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip())
    (site / "_telequeue_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return target


def test_package_data_globs_point_at_real_files():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["workers"]
    files = [p.relative_to(ROOT / "workers").as_posix() for p in (ROOT / "workers").rglob("*") if p.is_file()]
    for pattern in globs:
        assert any(fnmatch.fnmatch(name, pattern) for name in files), f"package data {pattern!r} matches no file"


def test_the_installed_package_has_its_data_files(venv):
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "workers" / "dev" / "data" / "contacts-10k.csv").is_file()
    shipped = {p.name for p in (ROOT / "workers" / "flower" / "templates").iterdir()}
    assert shipped and shipped == {p.name for p in (site / "workers" / "flower" / "templates").iterdir()}


def test_telequeue_help_and_the_demo_csv_work_outside_the_repo(venv, tmp_path):
    help_text = run([venv / "bin" / "telequeue", "--help"], cwd=tmp_path, env=outside_env()).stdout
    assert "demo" in help_text and "load" in help_text

    probe = ("import workers.dev.demo as demo\n"
             "from tasks.ringostat import CampaignChunkRow\n"
             "from workers.jobs.intake import read_csv\n"
             "from workers.jobs.kinds.ringostat_campaign import validate_contacts\n"
             "with read_csv(demo.EXAMPLE_CSV) as records:\n"
             "    valid = sum(isinstance(row, CampaignChunkRow) for row in validate_contacts(records, region='UA'))\n"
             "print(demo.__file__); print(demo.EXAMPLE_CSV); print(valid)\n")
    module, csv_path, valid = run([venv / "bin" / "python", "-c", probe], cwd=tmp_path,
                                  env=outside_env()).stdout.split()
    assert Path(module).is_relative_to(venv) and Path(csv_path).is_relative_to(venv), (module, csv_path)
    assert 0 < int(valid) <= EXAMPLE_ROWS


def test_the_installed_demo_loads_the_shipped_csv(venv, tmp_path):
    # Nothing answers on this port: the demo starts a Redis of its own (and stops it).
    env = {**outside_env(), "TELEQUEUE_REDIS_URL": f"redis://127.0.0.1:{devstack.free_port()}/0"}
    done = subprocess.run([venv / "bin" / "telequeue", "demo", "--no-keep-running"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "contacts-10k.csv" in out and str(venv) in out, out[-3000:]
    assert (tmp_path / ".telequeue" / "demo" / "report.csv").is_file()
