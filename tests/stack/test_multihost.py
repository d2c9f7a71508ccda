"""Several worker hosts on one machine: each in a network namespace with its own address.

The test builds its own little network and removes it again, even when a test fails:
  - a "service" veth pair, both ends in this (root) namespace, with 10.N.0.1: one Redis and
    one vendor sandbox listen there and nowhere else;
  - per host i, a namespace `tq<tag>h<i>` joined to the root namespace by a veth pair:
    10.N.i.1 on the root side, 10.N.i.2 inside, and a route to 10.N.0.0/24 through 10.N.i.1.
Workers run inside the namespaces (`ip netns exec`), so Redis and the sandbox see three
different client addresses. Every address is on these test links; nothing leaves the machine.
Needs root and iproute2 (`ip`); skipped with the reason otherwise.

Shown: one global limit across hosts (measured at the vendor), a job that survives a host
vanishing mid-job (SIGKILL + namespace deleted), and Pozvonim tokens: shared by hosts behind one
SNAT address (an nftables rule in the root namespace, made and removed by the test; needs `nft`),
one per host in the per-egress scope.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from sandbox.client import SandboxControl
from tests.support import debian
from tests.support.data import write_contacts
from tests.support.delivery import assert_exactly_once_except_unknown, line_map, status
from tests.support.limits import assert_limit_held_at_vendor, vendor_limit
from tests.support.redis_server import start_redis
from tests.support.stack import PROJECT_ID, SECRET_KEY, vendor_secret
from workers.dev import devstack

ROOT = Path(__file__).resolve().parents[2]
POZVONIM_UID = "1001"


# ---- the test network ---------------------------------------------------------------------------

def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def netns_unavailable() -> str | None:
    """Why this machine cannot make network namespaces, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (ip netns add)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"tqprobe{secrets.token_hex(3)}"
    added = ip("netns", "add", probe, check=False)
    if added.returncode != 0:
        return f"cannot create a network namespace: {added.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def free_subnet() -> int:
    """A second octet N such that no address or route of this machine is in 10.N.0.0/16."""
    taken = ip("-4", "-o", "addr", "show").stdout + ip("-4", "route", "show", "table", "all").stdout
    used = {ipaddress.ip_address(a) for a in re.findall(r"\b(10\.\d+\.\d+\.\d+)\b", taken)}
    candidates = [n for n in range(100, 250)
                  if not any(a in ipaddress.ip_network(f"10.{n}.0.0/16") for a in used)]
    if not candidates:
        pytest.skip("no free 10.N.0.0/16 for the test network")
    return random.choice(candidates)


@dataclass
class Host:
    netns: str
    address: str
    workers: list[subprocess.Popen] = field(default_factory=list)


class TestNet:
    """The links and namespaces this test made, and nothing else: close() removes them all."""

    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        self.net = free_subnet()
        self.service_address = f"10.{self.net}.0.1"
        self.links: list[str] = []
        self.hosts: list[Host] = []
        a, b = f"tq{self.tag}s0", f"tq{self.tag}s1"
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        self.links.append(a)
        ip("addr", "add", f"{self.service_address}/24", "dev", a)
        ip("link", "set", a, "up")
        ip("link", "set", b, "up")

    def add_host(self) -> Host:
        i = len(self.hosts) + 1
        netns, outside, inside = f"tq{self.tag}h{i}", f"tq{self.tag}v{i}", f"tq{self.tag}p{i}"
        host = Host(netns, f"10.{self.net}.{i}.2")
        ip("netns", "add", netns)
        self.hosts.append(host)
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        self.links.append(outside)
        ip("link", "set", inside, "netns", netns)
        ip("addr", "add", f"10.{self.net}.{i}.1/24", "dev", outside)
        ip("link", "set", outside, "up")
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "addr", "add", f"{host.address}/24", "dev", inside)
        ip("-n", netns, "link", "set", inside, "up")
        ip("-n", netns, "route", "add", f"10.{self.net}.0.0/24", "via", f"10.{self.net}.{i}.1")
        return host

    def snat(self) -> str:
        """From now on, everything the hosts send to the service address arrives from one other
        address, as from hosts behind a NAT gateway: returns that address. unsnat() undoes it."""
        if shutil.which("nft") is None and not debian.install("nftables"):
            pytest.skip("no `nft` command (nftables) to put the hosts behind one SNAT address, "
                        "and it could not be installed (needs root and apt-get)")
        nat_address = f"10.{self.net}.0.254"
        ip("addr", "add", f"{nat_address}/32", "dev", f"tq{self.tag}s0")
        table = f"tq{self.tag}"
        script = (f"add table ip {table}\n"
                  f"add chain ip {table} in {{ type nat hook input priority 100; }}\n"
                  f"add rule ip {table} in ip saddr 10.{self.net}.0.0/16 ip saddr != 10.{self.net}.0.0/24 "
                  f"ip daddr {self.service_address} snat to {nat_address}\n")
        done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            ip("addr", "del", f"{nat_address}/32", "dev", f"tq{self.tag}s0", check=False)
            pytest.skip(f"cannot add an nftables SNAT rule: {done.stderr.strip()}")
        self.nat_table = table
        return nat_address

    def unsnat(self) -> None:
        if getattr(self, "nat_table", None):
            subprocess.run(["nft", "delete", "table", "ip", self.nat_table], capture_output=True, timeout=30)
            ip("addr", "del", f"10.{self.net}.0.254/32", "dev", f"tq{self.tag}s0", check=False)
            self.nat_table = None

    def remove_host(self, host: Host) -> None:
        """The host disappears: its processes die with SIGKILL, then its namespace (and link) goes."""
        for proc in host.workers:
            devstack.stop(proc, sig=signal.SIGKILL)
        pids = ip("netns", "pids", host.netns, check=False).stdout.split()
        for pid in pids:  # anything still in the namespace was started by this test
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", host.netns, check=False)
        if host in self.hosts:
            self.hosts.remove(host)

    def close(self) -> None:
        self.unsnat()
        for host in list(self.hosts):
            for proc in host.workers:
                devstack.stop(proc)
            self.remove_host(host)
        for link in self.links:
            if ip("link", "show", link, check=False).returncode == 0:
                ip("link", "del", link, check=False)


# ---- telequeue across the hosts -----------------------------------------------------------------

class MultiHostStack:
    """A sandbox and workers like tests.support.stack.Stack, reached over the test network."""

    def __init__(self, net: TestNet, redis_url: str, tmp: Path, *sandbox_args: str, **settings: str) -> None:
        self.net = net
        self.tmp = tmp
        self.prefix = f"tqtest-{secrets.token_hex(4)}:"
        self.redis = redis.Redis.from_url(redis_url)
        port = devstack.free_port()
        self.url = f"http://{net.service_address}:{port}"
        self._sandbox_log = open(tmp / "sandbox.log", "ab")
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--host", net.service_address, "--port", str(port), *sandbox_args],
            cwd=ROOT, stdout=self._sandbox_log, stderr=subprocess.STDOUT, start_new_session=True)
        devstack.wait_until(self._sandbox_up, 15, "the sandbox to answer")
        self.control = SandboxControl(self.url)
        self.control.configure(projects={PROJECT_ID: SECRET_KEY})
        self._call_sandbox("POST", "/_sandbox/pozvonim/config",
                           json={"accounts": {POZVONIM_UID: vendor_secret("pozvonim")}})
        self.env = {
            "TELEQUEUE_REDIS_URL": redis_url,
            "TELEQUEUE_KEY_PREFIX": self.prefix,
            "TELEQUEUE_BROKER_KEY_PREFIX": self.prefix + "broker:",
            "TELEQUEUE_RINGOSTAT__BASE_URL": f"{self.url}/ringostat",
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__AUTH_KEY": SECRET_KEY,
            "TELEQUEUE_RINGOSTAT__ACCOUNTS__DEFAULT__PROJECT_ID": PROJECT_ID,
            "TELEQUEUE_RINGOSTAT__READ_TIMEOUT_S": "2",
            "TELEQUEUE_POZVONIM__BASE_URL": f"{self.url}/pozvonim/v2u",
            "TELEQUEUE_POZVONIM__ACCOUNTS__DEFAULT__UID": POZVONIM_UID,
            "TELEQUEUE_POZVONIM__ACCOUNTS__DEFAULT__API_KEY": vendor_secret("pozvonim"),
            "TELEQUEUE_POZVONIM__ACCOUNTS__DEFAULT__RATE_PER_S": "1000",
            # short timeouts keep the row lease (slowest vendor call + 5 s) short when a host dies
            "TELEQUEUE_POZVONIM__READ_TIMEOUT_S": "2",
            "TELEQUEUE_OBZVONILKA__READ_TIMEOUT_S": "2",
            "TELEQUEUE_SALESSCRIPTPROMPTER__READ_TIMEOUT_S": "2",
            "TELEQUEUE_ROW_LEASE_S": "5",
            "TELEQUEUE_RETRY__BACKOFF_BASE_S": "0.5",
            "TELEQUEUE_RETRY__BACKOFF_MAX_S": "4",
            "PYTHONUNBUFFERED": "1",
            **{f"TELEQUEUE_{k.upper()}": v for k, v in settings.items()},
        }
        self.workers: list[subprocess.Popen] = []

    def _sandbox_up(self) -> bool:
        if self.sandbox.poll() is not None:
            raise RuntimeError(f"sandbox exited: {(self.tmp / 'sandbox.log').read_text(errors='replace')[-500:]}")
        try:
            return requests.get(f"{self.url}/_sandbox/health", timeout=1).ok
        except requests.RequestException:
            return False

    def _call_sandbox(self, method: str, path: str, **kwargs) -> dict:
        response = requests.request(method, self.url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def start_worker(self, host: Host, *, queues: str = "ringostat,bulk", concurrency: int = 4) -> subprocess.Popen:
        """A Celery worker inside the host's namespace: its traffic leaves from host.address."""
        args = ["ip", "netns", "exec", host.netns,
                sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", queues,
                "-P", "threads", "-c", str(concurrency), "-n", f"{host.netns}@%h", "-l", "INFO",
                "--without-gossip", "--without-mingle"]
        with open(self.log(host), "ab") as out:
            proc = subprocess.Popen(args, env={**os.environ, **self.env}, cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        host.workers.append(proc)
        self.workers.append(proc)
        return proc

    def wait_workers_ready(self, hosts: list[Host], timeout_s: float = 40) -> None:
        devstack.wait_until(lambda: all("ready." in self.log(h).read_text(errors="replace") for h in hosts),
                            timeout_s, "every worker to be ready")

    def log(self, host: Host) -> Path:
        return self.tmp / f"{host.netns}.log"

    def cli(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workers", *args], env={**os.environ, **self.env}, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout_s)

    def rows(self, campaign: int) -> list[dict]:
        return self.control.rows(project=PROJECT_ID, campaign=campaign)

    def client_hosts(self) -> set[str]:
        """The addresses Redis sees its clients connect from."""
        return {client["addr"].rsplit(":", 1)[0] for client in self.redis.client_list()}

    def stop(self) -> None:
        for proc in self.workers:
            devstack.stop(proc)
        devstack.stop(self.sandbox)
        self.control.close()
        self._sandbox_log.close()
        for key in self.redis.scan_iter(match=f"{self.prefix}*", count=1000):
            self.redis.delete(key)


# ---- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def net():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    test_net = TestNet()
    try:
        yield test_net
    finally:
        test_net.close()


@pytest.fixture(scope="module")
def net_redis(net):
    """One Redis for every host, listening on the service address only."""
    url, proc = start_redis(host=net.service_address)
    try:
        yield url
    finally:
        devstack.stop(proc)


@pytest.fixture
def hosts(net):
    """Three fresh worker hosts; whatever a test leaves of them is removed afterwards."""
    made = [net.add_host() for _ in range(3)]
    try:
        yield made
    finally:
        for host in made:
            if host in net.hosts:
                for proc in host.workers:
                    devstack.stop(proc)
                net.remove_host(host)


@pytest.fixture
def multihost(net, net_redis, tmp_path):
    stacks: list[MultiHostStack] = []

    def make(*sandbox_args: str, **settings: str) -> MultiHostStack:
        stack = MultiHostStack(net, net_redis, tmp_path, *sandbox_args, **settings)
        stacks.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in stacks:
            stack.stop()


# ---- the tests ------------------------------------------------------------------------------------

RATE, BURST = 30, 2


def test_one_limit_holds_across_three_hosts(multihost, hosts, tmp_path):
    # Given a vendor that answers 429 above RATE/s, and one account limited to RATE/s in Redis
    stack = multihost("--rate", vendor_limit(PROJECT_ID, RATE, BURST), chunk_size="10",
                      ringostat__accounts__default__rate_per_s=str(RATE),
                      ringostat__accounts__default__burst=str(BURST))
    # And a worker of four threads on each of three hosts
    for host in hosts:
        stack.start_worker(host)
    stack.wait_workers_ready(hosts)
    # (each worker really talks to Redis from its own host's address)
    assert {h.address for h in hosts} <= stack.client_hosts()
    valid = write_contacts(tmp_path / "c.csv", 240, offset=700_000)
    # When a job of 8 seconds' worth of rows runs
    load = stack.cli("load", "ringostat-campaign", "--campaign", "910", str(tmp_path / "c.csv"), timeout_s=120)
    assert load.returncode == 0, load.stderr
    # Then every row arrived, never more than RATE + BURST in any 1 s window at the vendor, no 429
    assert_limit_held_at_vendor(stack.rows(910), valid, stack.control.stats(), rate=RATE, burst=BURST)
    # And every host did part of the sending
    for host in hosts:
        assert re.search(r"add_chunk\[[^\]]+\] succeeded", stack.log(host).read_text(errors="replace")), host.netns


def test_job_survives_a_host_disappearing(multihost, net, hosts, tmp_path):
    # Given workers on three hosts, a short visibility timeout and a job of ~8 s at 200 rows/s
    stack = multihost("--latency-ms", "3", visibility_timeout_s="6", chunk_size="50",
                      ringostat__accounts__default__rate_per_s="200", ringostat__accounts__default__burst="10",
                      broker_transport_options='{"unacked_restore_interval": 1, "unacked_restore_throttle": 1}')
    for host in hosts:
        stack.start_worker(host)
    stack.wait_workers_ready(hosts)
    valid = write_contacts(tmp_path / "c.csv", 1500, offset=800_000)
    load = stack.cli("load", "ringostat-campaign", "--campaign", "920", "--detach", str(tmp_path / "c.csv"))
    assert load.returncode == 0, load.stderr
    job_id = load.stdout.strip()
    doomed = hosts[2]
    devstack.wait_until(lambda: status(stack, job_id)["delivered"] >= 300, 60, "the job to get going")
    devstack.wait_until(lambda: "add_chunk" in stack.log(doomed).read_text(errors="replace"), 30,
                        "the doomed host to take chunks")
    # When that host disappears mid-job: its workers die with SIGKILL and its namespace goes
    net.remove_host(doomed)
    assert ip("netns", "pids", doomed.netns, check=False).returncode != 0  # the namespace is gone
    at_loss = status(stack, job_id)["delivered"]
    assert at_loss < 1500, "the job finished before the host went: nothing was tested"
    doomed_log = stack.log(doomed).read_text(errors="replace")
    held = len(re.findall(r"add_chunk\[[^\]]+\] received", doomed_log)) - \
        len(re.findall(r"add_chunk\[[^\]]+\] succeeded", doomed_log))
    assert held >= 1, "the lost host held no unfinished chunk"
    # Then the other hosts finish the job: its unacked chunks come back after the visibility timeout
    follow = stack.cli("job", "follow", job_id, "--timeout", "60", timeout_s=90)
    assert follow.returncode == 0, follow.stderr
    assert status(stack, job_id)["delivered"] == 1500
    # 0 lost; a number sent twice only where the ledger counted an unknown outcome
    duplicates = assert_exactly_once_except_unknown(stack, job_id, 920, valid, line_map(1500, 800_000))
    assert duplicates <= 4  # at most one in-flight row per thread of the lost host
    received = Counter(row["phone_number"] for row in stack.rows(920))
    assert sum(received.values()) == 1500 + duplicates


#: sends N tasks from the root namespace and waits for every result (one process, not N CLIs)
SEND_AND_WAIT = """
import json, sys
from workers.app import app
results = [app.send_task(sys.argv[1], kwargs={}) for _ in range(int(sys.argv[2]))]
print(json.dumps([r.get(timeout=60) for r in results]))
"""


def run_pozvonim_on_two_hosts(stack: MultiHostStack, two: list[Host]) -> None:
    for host in two:
        stack.start_worker(host, queues="pozvonim")
    stack.wait_workers_ready(two)
    done = subprocess.run([sys.executable, "-c", SEND_AND_WAIT, "pozvonim.profile.get", "40"],
                          env={**os.environ, **stack.env}, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(json.loads(done.stdout)) == 40
    for host in two:  # both hosts did some of them
        assert re.search(r"pozvonim\.profile\.get\[[^\]]+\] succeeded", stack.log(host).read_text(errors="replace")), \
            host.netns


@pytest.fixture
def behind_one_nat(net):
    try:
        yield net.snat
    finally:
        net.unsnat()


def test_pozvonim_hosts_behind_one_nat_share_one_token_by_default(behind_one_nat, multihost, hosts):
    # (behind_one_nat first: it is torn down last, after the workers stopped over the NAT)
    # Given two worker hosts whose traffic leaves through one SNAT address, with the default settings
    # (each host guesses its own address as egress: sharing by egress guess would fetch two tokens
    # from one vendor-visible IP, each revoking the other)
    nat_address = behind_one_nat()
    stack = multihost()
    assert "TELEQUEUE_POZVONIM__TOKEN_SCOPE" not in stack.env
    # When signed operations run on both hosts at once
    run_pozvonim_on_two_hosts(stack, hosts[:2])
    # Then the vendor issued exactly one token, to the NAT address, and refused nothing
    tokens = stack.control.rows(vendor="pozvonim", kind="token")
    assert [row["ip"] for row in tokens] == [nat_address]
    assert stack.control.stats()["status_counts"].get("401", 0) == 0
    # And the workers of both hosts share it through one key per account
    assert stack.redis.get(f"{stack.prefix}pozvonim:token:default")
    assert stack.redis.hget(f"{stack.prefix}pozvonim:token_fetches", "default") == b"1"


def test_pozvonim_hosts_get_and_use_their_own_tokens(multihost, hosts, tmp_path):
    # Given Pozvonim, which binds a token to the IP that asked for it, workers on two hosts with
    # their own addresses, and the per-egress scope
    stack = multihost(pozvonim__token_scope="egress")
    two = hosts[:2]
    # When signed operations run on both hosts at once
    run_pozvonim_on_two_hosts(stack, two)
    # And each host fetched exactly one token, for its own address (no refetching in turns)
    tokens = stack.control.rows(vendor="pozvonim", kind="token")
    assert sorted(row["ip"] for row in tokens) == sorted(h.address for h in two)
    # And the workers of a host share its token through Redis, one key per egress IP
    cached = [stack.redis.get(f"{stack.prefix}pozvonim:token:default:{h.address}") for h in two]
    assert all(cached), cached
    assert json.loads(cached[0])["token"] != json.loads(cached[1])["token"]
    # And no request was refused for a token of the wrong IP
    assert stack.control.stats()["status_counts"].get("401", 0) == 0


