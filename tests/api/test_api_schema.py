"""What the published schema promises, the server keeps, and the other way round (the schema
notes of a schemathesis run): a 405 names every method of its path in ``Allow``; constraints the
server enforces (step ids, one kind of schedule target, unique arm names) are in the schema; a
body that is not UTF-8 is the documented 422, not an undocumented 400."""

from __future__ import annotations

from typing import Any

import pytest
from served_api import Api, error_of, unique

PREFIX = "/api/v1/media"
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS")


@pytest.fixture(scope="module")
def doc(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.root().get("/openapi.json").json()
    return document


def test_a_405_allows_every_documented_method_of_its_path(api: Api, doc: dict[str, Any]) -> None:
    c = api.client(unique("allow"))
    wrong: list[str] = []
    for template, operations in doc["paths"].items():
        path = template.replace("{", "x").replace("}", "")
        # the client's base is the media prefix; the operator's routes live beside it (/api/v1/admin)
        path = path.removeprefix(PREFIX) if path.startswith(PREFIX) else str(c.base_url.copy_with(path=path))
        documented = {m.upper() for m in operations}
        for method in (m for m in METHODS if m not in documented):
            r = c.request(method, path)
            allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            if r.status_code != 405 or allow != documented:
                wrong.append(f"{method} {template}: {r.status_code}, Allow {sorted(allow)} != {sorted(documented)}")
            elif error_of(r)["code"] != "method_not_allowed":
                wrong.append(f"{method} {template}: {r.text}")
    assert not wrong, "\n".join(wrong)


def test_the_schema_states_what_the_server_enforces(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    step_id = schemas["PipelineStep"]["properties"]["id"]
    assert step_id["pattern"] == "^[A-Za-z][A-Za-z0-9_-]{0,39}$" and "unique" in step_id["description"]
    assert "id" in schemas["PipelineSpec"]["properties"]["steps"]["description"]
    target = schemas["ScheduleTarget"]
    assert (target["minProperties"], target["maxProperties"], target["additionalProperties"]) == (1, 1, False)
    for kind, model in (("task", "BatchItem"), ("pipeline", "PipelineSpec")):
        assert target["properties"][kind]["$ref"] == f"#/components/schemas/{model}"
        assert "anyOf" not in target["properties"][kind], "null is not a target"
    assert "unique" in schemas["ExperimentSpec"]["properties"]["arms"]["description"]
    at = schemas["ScheduleRequest"]["properties"]["at"]["description"]
    assert "100 years" in at


def test_a_budget_body_that_is_not_utf8_is_the_documented_422(api: Api, doc: dict[str, Any]) -> None:
    c = api.client(unique("budget"))
    for raw in (b'{"budget_usd": "\xff\xfe"}', b"\xff", b"{"):
        r = c.put("/budget", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert error_of(r)["code"] == "invalid_request" and error_of(r)["field"] == "body", r.text
    assert c.get("/budget").json()["budget_usd"] is None, "nothing set"
    put = doc["paths"][f"{PREFIX}/budget"]["put"]
    assert "422" in put["responses"] and "400" not in put["responses"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BudgetBody"}
    assert doc["components"]["schemas"]["BudgetBody"]["required"] == ["budget_usd"]
    r = c.put("/budget", json={"budget_usd": 2.5})
    assert r.status_code == 200 and r.json()["budget_usd"] == 2.5
