"""The base of every vendor task: payload validation, limiter, and retries by the one policy
(tasks/retry.py, fed from the worker's settings)."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import pydantic
from celery import Task
from celery.exceptions import Ignore

from vendors.errors import PermanentVendorError, RateLimited, TransientVendorError
from vendors.validation import describe

from tasks.runtime import current

M = TypeVar("M", bound=pydantic.BaseModel)


class InvalidPayload(ValueError):
    """The message does not match the task's payload model: failing again would not help."""


class VendorCallFailed(Exception):
    """A permanent vendor refusal, flattened to text and status so any result backend can carry it."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message, status, body)
        self.message, self.status, self.body = message, status, body

    def __str__(self) -> str:
        return self.message


class VendorTask(Task):
    """Single vendor operations: transient failures retry with backoff and jitter, bounded by
    the runtime's retry policy (`TELEQUEUE_RETRY__MAX_TASK_RETRIES`, `__BACKOFF_BASE_S`,
    `__BACKOFF_MAX_S`). (Operations not safe to repeat take tasks/once.py's path instead:
    never sent twice blindly.)"""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def parse(self, model: type[M], payload: dict[str, Any]) -> M:
        try:
            return model.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise InvalidPayload(f"{self.name}: invalid payload: {_short(exc)}") from None

    def call_vendor(self, vendor: str, account: str, call: Callable[[], Any]) -> Any:
        limiter = current().limiter(vendor, account)
        limiter.acquire()
        try:
            return call()
        except RateLimited as exc:
            limiter.penalize(exc.retry_after_s or 1.0)
            self.retry_later(exc, delay_s=exc.retry_after_s or 1.0)
        except TransientVendorError as exc:
            self.retry_later(exc, delay_s=current().retry.round_delay_s(self.request.retries))
        except PermanentVendorError as exc:
            raise flat(exc) from None

    def retry_later(self, exc: Exception, *, delay_s: float) -> None:
        """Celery's retry(countdown=...) would park the message in this worker's memory; the
        same task id goes to the deferred set in Redis instead, published when due."""
        if not current().retry.may_retry(self.request.retries):
            raise flat(exc) from None
        current().defer(self.name, dict(self.request.kwargs), delay_s=delay_s,
                        task_id=self.request.id, retries=self.request.retries + 1)
        self.backend.mark_as_retry(self.request.id, flat(exc), request=self.request)
        raise Ignore()


def flat(exc: Exception) -> VendorCallFailed:
    return VendorCallFailed(str(exc), getattr(exc, "status", None), getattr(exc, "body", None))


def _short(exc: pydantic.ValidationError) -> str:
    return describe(exc, whole="payload")


__all__ = ["InvalidPayload", "VendorCallFailed", "VendorTask"]

