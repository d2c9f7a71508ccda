"""A headless Chromium for browser tests: Debian's `chromium`, driven by Playwright from PyPI.

Playwright cannot download its own browsers here, so it drives /usr/bin/chromium. When that
is missing, tests.support.debian installs it where it can; otherwise the tests skip and say why.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.support import debian

CHROMIUM = "/usr/bin/chromium"
#: screenshots of browser tests, kept after the run (gitignored)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_or_skip() -> str:
    if not os.path.exists(CHROMIUM):
        debian.install("chromium")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} and it could not be installed "
                    "(needs root and apt-get: apt-get install chromium)")
    return CHROMIUM


def launch(playwright, **context):
    """A browser context of Chromium with a fresh profile (--user-data-dir); close it when done."""
    executable = chromium_or_skip()
    profile = tempfile.mkdtemp(prefix="telequeue-chromium-")
    # Playwright adds --headless itself, and --user-data-dir from `profile`.
    return playwright.chromium.launch_persistent_context(
        profile, executable_path=executable, headless=True, args=ARGS[1:], accept_downloads=True, **context)
