"""python -m sandbox --host 127.0.0.1 --port 18080 [--latency-ms ..] [--error-rate ..]
[--hang-rate ..] [--hang-s ..] [--rate PROJECT=RATE[/BURST] ...]
[--project PROJECT=AUTH_KEY ...] [--seed N]"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from .app import make_app
from .config import ConfigError, SandboxConfig

# Hanging requests may sleep for minutes; shutdown must not wait for them.
SHUTDOWN_TIMEOUT_S = 1.0


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, SandboxConfig]:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Vendor API emulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--latency-ms", type=float)
    parser.add_argument("--error-rate", type=float)
    parser.add_argument("--hang-rate", type=float)
    parser.add_argument("--hang-s", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--rate", action="append", default=[], metavar="PROJECT=RATE[/BURST]")
    parser.add_argument("--project", action="append", default=[], metavar="PROJECT=AUTH_KEY",
                        help="accept this project id with this Auth-key (in addition to the default)")
    args = parser.parse_args(argv)
    try:
        config = build_config(args)
    except ConfigError as exc:
        parser.error(str(exc))
    return args, config


def build_config(args: argparse.Namespace) -> SandboxConfig:
    update: dict = {
        name: getattr(args, name)
        for name in ("latency_ms", "error_rate", "hang_rate", "hang_s", "seed")
        if getattr(args, name) is not None
    }
    update["projects"] = dict(_pair(item, "--project") for item in args.project)
    update["rate_limits"] = dict(_rate(item) for item in args.rate)
    config = SandboxConfig()
    config.merge(update)
    return config


def _pair(item: str, flag: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key or not value:
        raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
    return key, value


def _rate(item: str) -> tuple[str, dict]:
    project, spec = _pair(item, "--rate")
    rate, _, burst = spec.partition("/")
    try:
        limit = {"rate_per_s": float(rate), "burst": int(burst) if burst else 1}
    except ValueError:
        raise ConfigError(f"--rate expects PROJECT=RATE[/BURST], got {item!r}") from None
    return project, limit


async def serve(host: str, port: int, config: SandboxConfig) -> None:
    # access_log=None: the per-request access log costs a large share of throughput.
    runner = web.AppRunner(make_app(config), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"sandbox listening on http://{host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    asyncio.run(serve(args.host, args.port, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
