"""The form pattern: validate a posted form with the REST route's own request model, and keep what was typed.

`Form.submitted(model, fields)` validates the posted fields (named by the model's wire aliases, so
`currentPassword`, not `current_password`) with the same pydantic model the REST route uses. The result
keeps every typed value (`form.value(name)`), one error message per field (`form.error(name)`, shown
next to the field with `aria-describedby`) and the HTTP status to answer with when the page is shown
again (400 for bad input; a service error sets its own: 403, 404, 409, 429 ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from novamem.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NovamemError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

__all__ = ["FORM_ERROR", "Form", "status_of"]

M = TypeVar("M", bound=BaseModel)

FORM_ERROR = ""  # the key of an error about the whole form (shown above its fields)
_STATUS: tuple[tuple[type[NovamemError], int], ...] = (
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
    (Unavailable, 503),
)
# pydantic messages a person should not read (a pattern error quotes the regular expression)
_MESSAGES = {"missing": "This field is required.", "string_pattern_mismatch": "This is not in the expected format."}


def status_of(exc: NovamemError) -> int:
    """The HTTP status of a service error (the dashboard's own table; 500 for anything unexpected)."""
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 500)


@dataclass
class Form(Generic[M]):
    """A form as typed: its values, its errors by field, and the validated model when there were none."""

    values: dict[str, str | list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    model: M | None = None
    status: int = 200

    @classmethod
    def blank(cls, **values: str) -> Form[M]:
        """A form not yet submitted, with initial values."""
        return cls(values=dict(values))

    @classmethod
    def submitted(
        cls, model: type[M], fields: Mapping[str, str | list[str]], *, extra: Mapping[str, Any] | None = None
    ) -> Form[M]:
        """Validate posted fields with `model` (lax: form values are strings; empty fields count as absent).

        `extra` adds values that do not come from the form (a path parameter, say) before validation.
        """
        form: Form[M] = cls(values=dict(fields))
        data: dict[str, Any] = {name: value for name, value in fields.items() if value not in ("", [])}
        data.update(extra or {})
        try:
            form.model = model.model_validate(data, strict=False)
        except ValidationError as exc:
            form.status = 400
            for issue in exc.errors():
                name = str(issue["loc"][0]) if issue["loc"] else FORM_ERROR
                message = str(issue["msg"]).removeprefix("Value error, ")  # as the REST envelope words it
                form.errors.setdefault(name, _MESSAGES.get(issue["type"], message))
        return form

    @property
    def ok(self) -> bool:
        """Validated, and no service error was recorded since."""
        return self.model is not None and not self.errors

    def fail(self, exc: NovamemError, field: str = FORM_ERROR) -> Form[M]:
        """Record a service error next to `field` (or, with `issues`, next to the fields they name)."""
        self.status = status_of(exc)
        issues = exc.issues if isinstance(exc, InvalidInput) else None
        for issue in issues or []:
            path = issue.get("path")
            name = path[0] if isinstance(path, list) and path else path
            self.errors.setdefault(str(name) if name else field, str(issue.get("message") or exc.message))
        if not issues:
            self.errors[field] = exc.message
        return self

    def value(self, name: str, default: str = "") -> str:
        """What was typed into a field (the first value of a repeated one)."""
        found = self.values.get(name, default)
        return found[0] if isinstance(found, list) and found else found if isinstance(found, str) else default

    def selected(self, name: str) -> list[str]:
        """Every value of a repeated field (checkbox groups, multi-selects)."""
        found = self.values.get(name, [])
        return [found] if isinstance(found, str) else list(found)

    def checked(self, name: str) -> bool:
        """Whether a checkbox was ticked (`value="true"`)."""
        return self.value(name) in ("true", "on")

    def error(self, name: str) -> str | None:
        """The message to show next to a field, if any."""
        return self.errors.get(name)
