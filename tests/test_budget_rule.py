"""One budget rule (issue 23): the SDK's check (``check_budget``) and the HTTP body's field
(``BudgetBody.budget_usd``) accept the same values and refuse the same ones, with the same
message naming the field. (The doors themselves: tests/api/test_api_batches.py and
tests/sdk/test_sdk_batches.py.)"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from videoai_ray.admission import field_error
from videoai_ray.api.routes_batches import BudgetBody
from videoai_ray.budget_rule import MAX_BUDGET_USD, check_budget
from videoai_ray.errors import InvalidRequest

ACCEPTED = [None, 0.01, 1, 2.5, MAX_BUDGET_USD]
REFUSED = [0, 0.0, -1, -1.5, math.nan, math.inf, -math.inf, MAX_BUDGET_USD * 1.000001, 2e9, True, False, "5",
           [1], {"usd": 1}]


@pytest.mark.parametrize("value", ACCEPTED, ids=repr)
def test_both_doors_accept_a_budget_above_zero_up_to_the_cap(value: object) -> None:
    sdk = check_budget(value)
    http = BudgetBody.model_validate({"budget_usd": value}).budget_usd
    assert sdk == http == (None if value is None else float(value))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_both_doors_refuse_the_same_values_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidRequest) as sdk:
        check_budget(value)
    with pytest.raises(ValidationError) as http:
        BudgetBody.model_validate({"budget_usd": value})
    refused = field_error(http.value.errors())  # what the API answers as a 422
    assert sdk.value.field == refused.field == "budget_usd"
    assert str(sdk.value) == str(refused)
    assert "above 0" in str(refused) and f"{MAX_BUDGET_USD:.0e}" in str(refused)


def test_a_batch_budget_names_its_own_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_budget(-1, field="batch.budget_usd")
    assert info.value.field == "batch.budget_usd" and str(info.value).startswith("batch.budget_usd: ")
