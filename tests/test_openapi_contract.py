"""The published contract: complete, and kept by the server under generated input.

Every operation of the served document (mini-program and staff) publishes its response schema and
error codes. Schemathesis generates requests for every operation (bounded: a few examples per
operation, derandomised) and checks each answer: never a 5xx, a documented status, a body that
matches the published schema.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from sanic import Sanic
from schemathesis.checks import not_a_server_error

from models.cards import PickupSlot
from models.staff import Role
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.miniapp.helpers import grant_quota, mini_login

MP_PREFIX = "/api/mp/"
EXAMPLES_PER_OPERATION = 8
EXAMPLES_PER_STAFF_OPERATION = 4
# Operations that would end the run's own sessions rather than test anything.
SESSION_ENDING = {("POST", "/api/mp/logout"), ("POST", "/api/staff/logout"), ("POST", "/api/staff/password")}


def _all_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def _mp_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() if path.startswith(MP_PREFIX) for method, op in ops.items()]


def _success_schema(response: dict[str, Any]) -> Any:
    """A JSON body's schema, or (for the printable forms) an HTML page's."""
    content = response.get("content", {})
    return content.get("application/json", {}).get("schema") or content.get("text/html", {}).get("schema")


def _codes(op: dict[str, Any], status: str) -> list[str]:
    return op["responses"][status]["content"]["application/json"]["schema"]["properties"]["error"]["properties"]["code"]["enum"]


async def test_every_mp_operation_publishes_its_response_errors_and_security(client: httpx.AsyncClient) -> None:
    document = (await client.get("/docs/openapi.json")).json()
    operations = _mp_operations(document)
    assert len(operations) >= 25
    problems = []
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        success = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        if not success or not all(_success_schema(r) for r in success.values()):
            problems.append(f"{where}: no response schema")
        errors = [r for status, r in op["responses"].items() if status[0] in "45"]
        if not errors or not all(r["content"]["application/json"]["schema"]["properties"]["error"] for r in errors):
            problems.append(f"{where}: no documented error codes")
        if path != "/api/mp/login" and op.get("security") != [{"bearer": []}]:
            problems.append(f"{where}: not marked as needing the bearer token")
        for parameter in op.get("parameters", []):
            if parameter["in"] in ("path", "query") and parameter["name"].endswith("_id") and parameter["schema"].get("type") != "integer":
                problems.append(f"{where}: {parameter['name']} is not typed as an integer")
    assert not problems, problems
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "opaque", "description": document["components"]["securitySchemes"]["bearer"]["description"]}
    booking = document["paths"]["/api/mp/cards/bookings"]["post"]
    assert [p["name"] for p in booking["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert {"201", "200", "409"} <= set(booking["responses"])
    assert "slot_full" in booking["responses"]["409"]["content"]["application/json"]["schema"]["properties"]["error"]["properties"]["code"]["enum"]
    nonce = document["paths"]["/api/mp/confirmation/attempts"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["nonce"]
    assert nonce == {"type": "string", "description": "from /challenge"}
    assert "example" in document["paths"]["/api/mp/login"]["post"]["responses"]["200"]["content"]["application/json"]
    assert set(document["components"]["schemas"]) >= {"MyYear", "CardList", "BookingInfo", "SlotList", "Subscriptions", "Station"}


PUBLIC = {("post", "/api/mp/login"), ("post", "/api/staff/login"), ("get", "/healthz"), ("get", "/readyz"), ("get", "/api/wechat/push"), ("post", "/api/wechat/push")}


async def test_every_operation_publishes_a_response_schema_and_its_error_codes(client: httpx.AsyncClient) -> None:
    """Staff routes too: the whole document is the contract, not only /api/mp."""
    document = (await client.get("/docs/openapi.json")).json()
    operations = _all_operations(document)
    assert len(operations) >= 180
    problems = []
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        success = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        if not success or not all(any(m.get("schema") for m in r.get("content", {}).values()) for r in success.values()):
            problems.append(f"{where}: no response schema")
        if "default" in op["responses"]:
            problems.append(f"{where}: an undocumented default answer")
        errors = {status: r for status, r in op["responses"].items() if status[0] in "45"}
        # An error answer is the error body, or a documented model (the audit check's 409 report).
        if not errors or not all("error" in r["content"]["application/json"]["schema"].get("properties", {}) or "$ref" in r["content"]["application/json"]["schema"] for r in errors.values()):
            problems.append(f"{where}: no documented error codes")
        if (method, path) not in PUBLIC and op.get("security") != [{"bearer": []}]:
            problems.append(f"{where}: not marked as needing the bearer token")
        if (method, path) not in PUBLIC and "401" not in errors:
            problems.append(f"{where}: 401 not documented")
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"].endswith("_id") and parameter["schema"].get("type") != "integer":
                problems.append(f"{where}: {parameter['name']} is not typed as an integer")
    assert not problems, problems
    schemas = document["components"]["schemas"]
    # The staff side's models are published beside the mini-program's.
    assert {"BeneficiaryInfo", "StaffCardApplication", "CampaignInfo", "ConfirmationInfo", "OrgUnitInfo", "StaffSessionInfo", "MonthlyStatistics"} <= set(schemas)
    units = document["paths"]["/api/org/units/{unit_id}"]["patch"]
    assert units["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrgUnitInfo"}
    assert "read_only" in units["responses"]["403"]["content"]["application/json"]["schema"]["properties"]["error"]["properties"]["code"]["description"]
    xlsx = document["paths"]["/api/cards/statistics.xlsx"]["get"]["responses"]["200"]["content"]
    assert list(xlsx) == ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"] and xlsx[next(iter(xlsx))]["schema"]["format"] == "binary"


async def test_plan_routes_publish_their_answers_and_error_codes(client: httpx.AsyncClient) -> None:
    """The routes of the card plan (timeline, forms, bank, withdrawal, on-site appointments, 优待目录)."""
    document = (await client.get("/docs/openapi.json")).json()
    paths = document["paths"]
    forms = paths["/api/mp/cards/applications/{application_id}/forms"]["get"]
    assert list(forms["responses"]["200"]["content"]) == ["text/html"] and forms["responses"]["200"]["content"]["text/html"]["schema"]["type"] == "string"
    assert set(_codes(forms, "404")) == {"not_found", "application_not_found"} and "proxy_scope_missing" in _codes(forms, "403")
    booking = paths["/api/mp/cards/application-appointments"]["post"]
    assert [p["name"] for p in booking["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert booking["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApplicationAppointmentInfo"}
    assert {"slot_full", "past_cutoff", "appointment_exists"} == set(_codes(booking, "409")) and {"not_entitled", "beneficiary_deceased", "validation_failed"} == set(_codes(booking, "422"))
    cancel = paths["/api/mp/cards/application-appointments/{appointment_id}/cancel"]["post"]
    assert set(_codes(cancel, "409")) == {"appointment_not_active", "past_cutoff"} and [p["schema"]["maximum"] for p in cancel["parameters"] if p["in"] == "path"] == [2**31 - 1]
    withdraw = paths["/api/mp/cards/applications/{application_id}/withdraw"]["post"]
    assert set(_codes(withdraw, "409")) == {"not_withdrawable", "version_conflict"} and "reason_required" in _codes(withdraw, "422")
    bank = paths["/api/mp/cards/applications/{application_id}/bank"]["post"]
    assert {"bad_bank_account", "bank_name_required"} <= set(_codes(bank, "422")) and _codes(bank, "409") == ["application_locked"]
    catalogue = paths["/api/mp/cards/catalogue"]["get"]
    assert set(_codes(catalogue, "403")) == {"not_authorised_for_beneficiary", "not_a_holder"} and "catalogue_not_published" in _codes(catalogue, "404")
    timeline = paths["/api/mp/cards/timeline"]["get"]["responses"]["200"]["content"]["application/json"]
    assert timeline["example"]["batches"][0]["from"] == "2026-03-01"
    schemas = document["components"]["schemas"]
    assert set(schemas["TimelineBatch"]["required"]) == {"from", "to", "batch", "label", "current"}
    assert schemas["CardApplicationWithBank"]["properties"]["bank"]["nullable"] is True


async def test_ids_beyond_the_database_range_are_unknown_not_server_errors(client: httpx.AsyncClient, wechat_standin: StandinControl) -> None:
    headers = await mini_login(client, wechat_standin, "o-huge-ids")
    for path in (f"/api/mp/cards/bookings/{2**40}/qr", "/api/mp/cards/bookings/-3/qr", f"/api/mp/cards/applications/{2**63}", f"/api/mp/cards/applications/{2**40}/forms"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", (path, response.text)
    # Authentication comes first: without a token an out-of-range id is 401 like any other, nothing revealed.
    assert (await client.get(f"/api/mp/cards/bookings/{2**40}/qr")).status_code == 401
    assert (await client.get("/api/mp/cards/bookings/5/qr")).status_code == 401


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    """The whole document: mini-program operations as a bound beneficiary, staff operations as the
    admin (every role check passes, so the handlers themselves run)."""
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="周正")
    headers = await mini_login(client, wechat_standin, "o-schemathesis")
    assert (await client.post("/api/mp/bind", headers=headers, json={"name": "周正", "id_number": decrypt_id_number(person)})).status_code == 201
    await grant_quota(client, headers, "booking_confirmed")
    await PickupSlot.create(station_id=county.station_a.id, day=date.today() + timedelta(days=3), start_time="09:00", end_time="10:00", capacity=5)
    admin = await staff_headers(client, role=Role.ADMIN, unit=county.city)

    document = (await client.get("/docs/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    base_url = app.ctx.test_base_url
    checks = [not_a_server_error, schemathesis.checks.status_code_conformance, schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]
    failures: list[str] = []
    counted = {"requests": 0, "operations": 0, "mp": 0}

    def run() -> None:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SESSION_ENDING:
                continue
            counted["operations"] += 1
            mini = operation.path.startswith(MP_PREFIX)
            counted["mp"] += mini

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES_PER_OPERATION if mini else EXAMPLES_PER_STAFF_OPERATION, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case) -> None:
                response = case.call(base_url=base_url, headers=headers if mini else admin, timeout=30)  # noqa: B023 - check() runs within this iteration
                counted["requests"] += 1
                try:
                    case.validate_response(response, checks=checks)
                except Exception as exc:  # noqa: BLE001 - collect every operation's failures, then report them all
                    failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")  # noqa: B023

            check()

    # Schemathesis calls the server synchronously; the server runs on this event loop, so the
    # calls go from a worker thread while the loop keeps serving.
    await asyncio.to_thread(run)
    print(f"schemathesis: {counted['operations']} operations ({counted['mp']} mini-program), {counted['requests']} requests")
    assert counted["mp"] >= 35 and counted["operations"] >= len(_all_operations(document)) - len(SESSION_ENDING)
    assert counted["requests"] >= counted["operations"]
    assert not failures, "\n".join(sorted(set(failures))[:30])


async def test_docs_render_offline_in_headless_chromium(client: httpx.AsyncClient, app: Sanic) -> None:
    """/docs must work on an intranet: every asset from this server, none from a CDN."""
    import os
    import shutil
    from pathlib import Path

    import pytest

    chromium = os.environ.get("VETS_CHROMIUM", "/usr/bin/chromium")
    if not shutil.which(chromium) and not Path(chromium).exists():
        pytest.skip(f"Chromium not found at {chromium} (apt-get install chromium)")
    from playwright.async_api import Route, async_playwright

    page_html = (await client.get("/docs")).text
    assert "cdn" not in page_html.lower() and "/docs/assets/swagger-ui-bundle.js" in page_html
    base = app.ctx.test_base_url
    outside: list[str] = []

    async def only_this_server(route: Route) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            # No name resolves but the loopback address: the browser has no network beyond this server.
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
        )
        try:
            context = await browser.new_context()
            await context.route("**/*", only_this_server)
            page = await context.new_page()
            await page.goto(base + "/docs", wait_until="networkidle")
            await page.wait_for_selector(".opblock-summary", timeout=20000)
            title = await page.inner_text(".information-container .title")
            operations = await page.locator(".opblock").count()
            await page.locator(".opblock-summary-path[data-path='/api/mp/my-year']").click()
            await page.wait_for_selector(".opblock.is-open .responses-wrapper", timeout=10000)
            opened = await page.inner_text(".opblock.is-open")
            authorize = await page.locator(".auth-wrapper .authorize").count()  # the bearer scheme
        finally:
            await browser.close()
    assert "退役军人事务" in title and operations >= 100
    assert "mini_login_required" in opened and authorize == 1
    assert outside == []
