"""A bounded schemathesis run over the whole served OpenAPI document: no input answers 5xx.

Generated requests go out over real HTTP from a thread (schemathesis and Hypothesis are
synchronous) while the event loop serves them, as a staff admin, a district bureau officer and
without credentials. The run is bounded (a few examples per operation) to stay in the CI budget.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from typing import Any

import httpx
import pytest
from sanic import Sanic

from models.staff import Role
from tests.factories import make_beneficiary, make_county, make_staff, staff_headers

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

EXAMPLES = int(os.environ.get("VETS_FUZZ_EXAMPLES", "4"))
# Operations that would end the fuzzing session itself rather than test anything.
SKIP = {("POST", "/api/staff/logout"), ("POST", "/api/staff/password"), ("POST", "/api/mp/logout")}


def _run(base_url: str, document: dict[str, Any], identities: list[dict[str, str]]) -> list[str]:
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        for headers in identities:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck), derandomize=True)
            def check(case: Any) -> None:
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {case.method} {case.formatted_path} {response.text[:200]}")

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    check()
                except Exception as exc:  # a generation problem must not hide the others
                    failures.append(f"error {operation.method.upper()} {operation.path}: {type(exc).__name__}: {str(exc)[:200]}")
    return failures


async def test_no_generated_input_answers_5xx(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    await make_beneficiary(station=county.station_a)
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.city)
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    await make_staff(role=Role.STATION, unit=county.station_a, username="fuzz-target")
    document = (await client.get("/docs/openapi.json")).json()
    failures = await asyncio.to_thread(_run, app.ctx.test_base_url, document, [admin, bureau, {}])
    report = os.environ.get("VETS_FUZZ_REPORT")
    if report:
        with open(report, "w") as handle:
            handle.write("\n".join(failures))
    assert not failures, "\n".join(failures[:40])
