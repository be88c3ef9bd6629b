"""The one rule for a budget in USD (a user's daily one, a batch's), the same at every door.

A budget is a finite number above 0 and at most ``MAX_BUDGET_USD``, or ``None`` (no budget).
The SDK (``MediaService.set_budget``/``open_batch``, ``Client.batch``/``map``) checks it with
``check_budget``; the HTTP API's ``PUT /budget`` body declares its field as ``BudgetAmount`` and
``POST /batch?budget_usd=`` calls ``check_budget``, so every door accepts and refuses the same
values with the same message naming the field (``InvalidRequest``, a 422 over HTTP).

A tenant's limits (``tenants/limit_spec.py``) are an operator's, with their own bounds.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import PlainValidator, WithJsonSchema

from .errors import InvalidRequest

#: the largest budget accepted anywhere (a batch's, a user's daily one): beyond it an amount is a typo
MAX_BUDGET_USD = 1e9


def budget_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a budget (``None`` when it is one, or is ``None``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 < value <= MAX_BUDGET_USD:
        return f"must be an amount in USD above 0 (at most {MAX_BUDGET_USD:.0e}), got {value!r}"
    return None


def check_budget(value: object, field: str = "budget_usd") -> float | None:
    """``value`` as a budget (a float, or ``None``); ``InvalidRequest`` naming ``field`` otherwise."""
    problem = budget_problem(value)
    if problem is not None:
        raise InvalidRequest(f"{field}: {problem}", field=field)
    return None if value is None else float(value)  # type: ignore[arg-type]


def _as_budget(value: object) -> float | None:
    problem = budget_problem(value)
    if problem is not None:
        raise ValueError(problem)  # pydantic reports it at the field, as "Value error, ..."
    return None if value is None else float(value)  # type: ignore[arg-type]


#: a pydantic field under the same rule (no coercion: a JSON string or ``true`` is refused, as by the SDK)
BudgetAmount = Annotated[
    float | None,
    PlainValidator(_as_budget),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": MAX_BUDGET_USD},
                              {"type": "null"}]}),
]

__all__ = ["MAX_BUDGET_USD", "BudgetAmount", "budget_problem", "check_budget"]
