"""The runtime interface tasks/ codes against (tasks/runtime.py) is complete, and the worker's
implementation provides every member of it, with signatures tasks can call it by. What the
runtime hands out (limiters, ledgers, the once-ledger, the secret store, claims, entries) is
checked the same way, by following the return types."""

from __future__ import annotations

import ast
import inspect
import types
import typing
from pathlib import Path

import pytest

import tasks.runtime as interface
from tasks.retry import RetryPolicy
from workers.runtime.worker_runtime import WorkerRuntime

TASKS = Path(interface.__file__).parent


def members(protocol: type) -> dict[str, object]:
    """A Protocol's declared members: attributes (by annotation) and methods (functions, properties)."""
    found: dict[str, object] = {name: hint for name, hint in typing.get_type_hints(protocol).items()}
    for name, value in vars(protocol).items():
        if not name.startswith("_") and isinstance(value, (types.FunctionType, property)):
            found[name] = value
    return found


def lookup(cls: type, name: str) -> object:
    """A class's member without running descriptors; dataclass fields without default by annotation."""
    try:
        return inspect.getattr_static(cls, name)
    except AttributeError:
        if name in typing.get_type_hints(cls):
            return typing.get_type_hints(cls)[name]
        raise


def returns(member: object, owner: type) -> object:
    """The declared type of an attribute, a property's value or a method's result."""
    if isinstance(member, property):
        member = member.fget
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, types.FunctionType):
        return typing.get_type_hints(member).get("return", typing.Any)
    return member  # an annotation already


def callable_as_declared(declared: types.FunctionType, implemented: object) -> str:
    """'' when every call the Protocol allows binds to the implementation, else why not."""
    if isinstance(implemented, staticmethod):
        implemented = implemented.__func__
        skip_self = False
    else:
        skip_self = True
    if not callable(implemented):
        return "not a method"
    impl = inspect.signature(implemented)
    params = list(inspect.signature(declared).parameters.values())[1:]
    positional = [object() for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    keywords = {p.name: object() for p in params if p.kind == p.KEYWORD_ONLY
                or (p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty)}
    try:
        impl.bind(*([None] if skip_self else []), *positional, **keywords)
    except TypeError as exc:
        return f"{impl} cannot take {inspect.signature(declared)}: {exc}"
    return ""


def concrete(hint: object) -> object:
    """X from X | None."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1 else hint


def is_protocol(hint: object) -> bool:
    return isinstance(hint, type) and getattr(hint, "_is_protocol", False)


def gaps(protocol: type, impl: type, seen: set | None = None) -> list[str]:
    """What `impl` lacks of `protocol`, following Protocol-typed results into their implementations."""
    seen = set() if seen is None else seen
    if (protocol, impl) in seen:
        return []
    seen.add((protocol, impl))
    missing: list[str] = []
    for name, declared in members(protocol).items():
        where = f"{impl.__module__}.{impl.__qualname__}.{name} (for {protocol.__qualname__})"
        try:
            implemented = lookup(impl, name)
        except AttributeError:
            missing.append(f"{where}: missing")
            continue
        if isinstance(declared, types.FunctionType):
            why = callable_as_declared(declared, implemented)
            if why:
                missing.append(f"{where}: {why}")
                continue
        want, got = concrete(returns(declared, protocol)), concrete(returns(implemented, impl))
        if is_protocol(want):
            if not isinstance(got, type):
                missing.append(f"{where}: declares no type that provides {want.__qualname__}")
            else:
                missing.extend(gaps(want, got, seen))
        elif isinstance(want, type) and want is not typing.Any and issubclass(want, RetryPolicy):
            if not (isinstance(got, type) and issubclass(got, want)):
                missing.append(f"{where}: is {got}, not a {want.__qualname__}")
    return missing


def test_the_worker_runtime_provides_every_member_of_the_interface():
    assert gaps(interface.Runtime, WorkerRuntime) == []


class LimiterWithoutPenalize:
    def acquire(self, *, should_stop=None, slots: int = 1) -> bool: ...
    def take_reserved(self) -> bool: ...


class RuntimeHandingOutIt(WorkerRuntime):
    def limiter(self, vendor: str, account: str) -> LimiterWithoutPenalize: ...


class LimiterWithoutSlots:
    def acquire(self, *, should_stop=None) -> bool: ...  # a two-request row could not reserve both
    def take_reserved(self) -> bool: ...
    def penalize(self, retry_after_s: float) -> None: ...


def test_what_it_hands_out_is_checked_too():
    # The check follows the runtime's results: a limiter without penalize is caught
    assert [gap for gap in gaps(interface.Runtime, RuntimeHandingOutIt) if "LimiterWithoutPenalize.penalize" in gap]


def test_a_signature_tasks_cannot_call_is_a_gap():
    assert [gap for gap in gaps(interface.Limiter, LimiterWithoutSlots) if ".acquire" in gap]


def runtime_uses() -> set[str]:
    """Every attribute tasks/ reads off the runtime: `current().X` and `runtime.X` where
    `runtime = current()`."""
    used: set[str] = set()
    for path in TASKS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {"runtime"}  # the name tasks/ binds current() to
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            target = node.value
            is_current = (isinstance(target, ast.Call) and isinstance(target.func, ast.Name)
                          and target.func.id == "current")
            if is_current or (isinstance(target, ast.Name) and target.id in names and path.name != "runtime.py"):
                used.add(node.attr)
    return used


def test_the_interface_declares_everything_tasks_use_of_the_runtime():
    used = runtime_uses()
    assert {"retry", "row_lease_s", "ledger", "limiter"} <= used  # the scan sees tasks/' uses
    assert used - set(members(interface.Runtime)) == set()


@pytest.mark.parametrize("protocol", [interface.Limiter, interface.Ledger, interface.OnceLedger,
                                      interface.SecretStore, interface.Claim, interface.OnceEntry,
                                      interface.Reservation, interface.Claims])
def test_every_handed_out_interface_is_reachable_from_the_runtime(protocol):
    reachable: set[type] = set()

    def walk(p: type) -> None:
        if p in reachable:
            return
        reachable.add(p)
        for member in members(p).values():
            hint = concrete(returns(member, p))
            if is_protocol(hint):
                walk(hint)

    walk(interface.Runtime)
    assert protocol in reachable
