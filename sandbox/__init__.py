"""Emulators of the vendor APIs, served on loopback for the demo, tests and benchmarks.

Run one:      python -m sandbox --port 18080
From Python:  with start_sandbox("--latency-ms", "5") as sb: SandboxControl(sb.url).stats()
"""

from .app import VENDORS, make_app
from .client import SandboxControl
from .config import DEFAULT_AUTH_KEY, DEFAULT_PROJECT_ID, ConfigError, RateLimit, SandboxConfig
from .process import SandboxProcess, SandboxStartError, free_port, start_sandbox
from .state import SandboxState
from .vendor import VendorPlugin

__all__ = [
    "DEFAULT_AUTH_KEY",
    "DEFAULT_PROJECT_ID",
    "VENDORS",
    "ConfigError",
    "RateLimit",
    "SandboxConfig",
    "SandboxControl",
    "SandboxProcess",
    "SandboxStartError",
    "SandboxState",
    "VendorPlugin",
    "free_port",
    "make_app",
    "start_sandbox",
]
