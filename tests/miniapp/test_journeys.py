"""The mini-program journeys over HTTP against the WeChat stand-in, every answer checked against the
published OpenAPI document: a beneficiary's year, a card from application to pickup, a family proxy."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sanic import Sanic

from models.cards import ApplicationStatus, Card, CardApplication, CardStatus, PickupSlot, Shipment
from models.org import OrgUnit
from models.registry import Beneficiary, PhotoKind
from models.staff import Role
from models.wechat import MiniUser, Notification
from server.actors import SYSTEM
from server.notifications.templates import render
from server.registry import service as registry
from server.registry.service import decrypt_id_number
from server.wechat.standin import StandinControl
from tests.confirmation.helpers import face_kit, running_campaign
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.miniapp.contract import Contract
from tests.miniapp.helpers import mini_login

HOURS = "工作日 8:30-12:00，14:00-17:30"


async def _county_with_contacts():  # type: ignore[no-untyped-def]
    county = await make_county()
    await OrgUnit.filter(id=county.station_a.id).update(address="伊山镇人民路12号", phone="0518-88881234", opening_hours=HOURS)
    return county


async def _bind(client: httpx.AsyncClient, contract: Contract, headers: dict[str, str], person: Beneficiary) -> httpx.Response:
    return await client.post("/api/mp/bind", headers=headers, json={"name": person.name, "id_number": decrypt_id_number(person)})


async def _card_at_centre(person: Beneficiary, application_id: int, tracking: str) -> Card:
    """The review chain and the card maker are staff-side: the approved card arrives at the centre."""
    await CardApplication.filter(id=application_id).update(status=ApplicationStatus.APPROVED, open_key=None)
    station = await OrgUnit.get(id=person.station_id)
    shipment = await Shipment.create(district_id=station.parent_id, tracking_number=tracking, expected_count=1, counted_count=1, envelope_intact=True, cards_intact=True, status="accepted", received_by_staff_id=0)
    return await Card.create(application_id=application_id, shipment=shipment, beneficiary_id=person.id, station_id=person.station_id, status=CardStatus.AT_CENTRE)


async def _slots(station_id: int) -> list[PickupSlot]:
    day = date.today() + timedelta(days=3)
    return [await PickupSlot.create(station_id=station_id, day=day, start_time=start, end_time=end, capacity=2) for start, end in (("09:00", "10:00"), ("10:00", "11:00"))]


async def test_beneficiary_year_login_bind_my_year_confirm(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    contract = await Contract.load(client)
    county = await _county_with_contacts()
    person = await make_beneficiary(station=county.station_a, name="姚明")
    await registry.add_photo(actor=SYSTEM, beneficiary=person, data=face_kit(app).id_photo, kind=PhotoKind.ID_CARD, media_dir=app.ctx.settings.media_dir)
    campaign = await running_campaign(county.district)

    code = await wechat_standin.issue_code(openid="o-journey-yao")
    login = contract.check(await client.post("/api/mp/login", json={"code": code.code}))
    headers = {"Authorization": f"Bearer {login['token']}"}
    assert login["profile"]["self"] is None
    first = await _bind(client, contract, headers, person)
    assert first.status_code == 201 and contract.check(first)["beneficiary_id"] == person.id
    again = await _bind(client, contract, headers, person)
    assert again.status_code == 200 and contract.check(again)["id"] == first.json()["id"]  # binding twice is not a new binding

    year = contract.check(await client.get("/api/mp/my-year", headers=headers))
    [me] = year["people"]
    assert me["acting_as"] == "self" and me["relation"] == "本人" and me["id_photo_on_file"] is True
    assert me["confirmation"]["status"] == "pending" and me["confirmation"]["status_label"] == "未确认"
    assert me["confirmation"]["deadline"] == campaign.implementation_end.isoformat() and me["confirmation"]["self_service_allowed"] is True
    assert me["card"]["status"] == "none" and me["card"]["status_label"] == "尚未申领"
    assert me["station"] == {"id": county.station_a.id, "name": county.station_a.name, "address": "伊山镇人民路12号", "phone": "0518-88881234", "opening_hours": HOURS}
    assert [t["code"] for t in me["todo"]] == ["confirm", "apply_card"]
    stations = contract.check(await client.get(f"/api/mp/stations?district_id={county.district.id}", headers=headers))
    assert [s["name"] for s in stations["items"]] == [county.station_a.name, county.station_b.name] and stations["items"][0]["opening_hours"] == HOURS

    challenge = contract.check(await client.post("/api/mp/confirmation/challenge", headers=headers, json={"beneficiary_id": person.id}))
    frames = face_kit(app).frames_for(challenge["actions"])
    attempt = await client.post("/api/mp/confirmation/attempts", headers=headers, data={"nonce": challenge["nonce"]}, files=[("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)])
    assert contract.check(attempt)["decision"] == "pass"
    year = contract.check(await client.get(f"/api/mp/my-year?beneficiary_id={person.id}", headers=headers))
    assert year["people"][0]["confirmation"]["status"] == "confirmed" and [t["code"] for t in year["people"][0]["todo"]] == ["apply_card"]
    status = contract.check(await client.get(f"/api/mp/confirmation/status?beneficiary_id={person.id}", headers=headers))
    assert status["status"] == "confirmed"


async def test_card_journey_apply_track_ready_slots_book_qr_reschedule_cancel(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    contract = await Contract.load(client)
    county = await _county_with_contacts()
    person = await make_beneficiary(station=county.station_a, name="李卫东")
    headers = await mini_login(client, wechat_standin, "o-journey-li")
    assert (await _bind(client, contract, headers, person)).status_code == 201

    applied = await client.post("/api/mp/cards/applications", headers=headers, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert applied.status_code == 201
    application = contract.check(applied)
    mine = contract.check(await client.get("/api/mp/cards/applications", headers=headers))
    assert [a["id"] for a in mine["items"]] == [application["id"]] and mine["items"][0]["beneficiary_name"] == "李卫东"
    detail = contract.check(await client.get(f"/api/mp/cards/applications/{application['id']}", headers=headers))
    assert detail["history"][0]["to_status_label"] == "服务站受理检查"
    year = contract.check(await client.get("/api/mp/my-year", headers=headers))
    assert year["people"][0]["card"]["status"] == "applying" and "服务站受理检查" in year["people"][0]["card"]["status_label"]

    card = await _card_at_centre(person, application["id"], "SF-J1")
    refused = await client.post("/api/mp/cards/applications", headers=headers, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert refused.status_code == 409 and contract.check(refused)["error"]["code"] == "card_already_approved"
    not_yet = await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=headers)
    assert not_yet.status_code == 409 and contract.check(not_yet)["error"]["code"] == "card_not_ready"

    station_staff = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    collected = await client.post("/api/cards/collections", headers=station_staff, json={"station_id": county.station_a.id, "card_ids": [card.id]})
    assert collected.status_code == 200 and [c["status"] for c in contract.check(collected)["items"]] == ["at_station"]  # the staff side is published too
    cards = contract.check(await client.get("/api/mp/cards/mine", headers=headers))
    assert [(c["id"], c["status"], c["can_book"]) for c in cards["items"]] == [(card.id, "at_station", True)]
    assert cards["items"][0]["station"]["opening_hours"] == HOURS
    ready = await Notification.get(template_key="card_ready_for_pickup")
    assert render("card_ready_for_pickup", ready.context).values()["thing4"] == "请本人携带身份证原件前往领取"

    first, second = await _slots(county.station_a.id)
    slots = contract.check(await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=headers))
    assert slots["station"]["address"] == "伊山镇人民路12号" and [s["id"] for s in slots["items"]] == [first.id, second.id]
    assert slots["items"][0]["starts_at"].endswith("+08:00") and slots["items"][0]["starts_at"][11:16] == "09:00"

    keyed = {**headers, "Idempotency-Key": "journey-tap-1"}
    made = await client.post("/api/mp/cards/bookings", headers=keyed, json={"card_id": card.id, "slot_id": first.id})
    assert made.status_code == 201
    booking = contract.check(made)
    assert booking["station"]["phone"] == "0518-88881234" and booking["status_label"] == "待签到"
    retried = await client.post("/api/mp/cards/bookings", headers=keyed, json={"card_id": card.id, "slot_id": first.id})
    assert retried.status_code == 200 and contract.check(retried)["id"] == booking["id"]

    # A lost booking id is found again; the QR code can be shown, the booking moved and cancelled.
    listed = contract.check(await client.get("/api/mp/cards/bookings", headers=headers))
    assert [b["id"] for b in listed["items"]] == [booking["id"]]
    year = contract.check(await client.get("/api/mp/my-year", headers=headers))
    assert year["people"][0]["card"]["active_booking_id"] == booking["id"] and year["people"][0]["todo"][-1]["code"] == "pickup_booked"
    qr = contract.check(await client.get(f"/api/mp/cards/bookings/{booking['id']}/qr", headers=headers))
    assert qr["short_code"] == booking["short_code"]
    moved = contract.check(await client.post(f"/api/mp/cards/bookings/{booking['id']}/reschedule", headers=headers, json={"slot_id": second.id}))
    assert moved["slot"]["start_time"] == "10:00"
    cancelled = contract.check(await client.post(f"/api/mp/cards/bookings/{booking['id']}/cancel", headers=headers))
    assert cancelled["status"] == "cancelled" and cancelled["status_label"] == "已取消"

    # Handed out at the counter: no more slots for that card.
    await Card.filter(id=card.id).update(status=CardStatus.DELIVERED)
    gone = await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=headers)
    assert gone.status_code == 409 and contract.check(gone)["error"]["code"] == "card_not_ready"
    assert contract.check(await client.get("/api/mp/cards/mine", headers=headers))["items"][0]["can_book"] is False


async def test_family_member_requests_proxy_sees_their_people_and_books_for_them(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    contract = await Contract.load(client)
    county = await _county_with_contacts()
    father = await make_beneficiary(station=county.station_a, name="张德福")
    father_headers = await mini_login(client, wechat_standin, "o-journey-father")
    assert (await _bind(client, contract, father_headers, father)).status_code == 201
    son_headers = await mini_login(client, wechat_standin, "o-journey-son")

    asked = await client.post(
        "/api/mp/proxies",
        headers=son_headers,
        json={"beneficiary_name": "张德福", "beneficiary_id_number": decrypt_id_number(father), "proxy_name": "张小军", "relation": "子女", "scopes": ["book"]},
    )
    assert asked.status_code == 201
    grant = contract.check(asked)
    assert grant["status_label"] == "待审核"
    pending = contract.check(await client.get("/api/mp/proxies/mine", headers=father_headers))
    assert [g["id"] for g in pending["items"]] == [grant["id"]]
    approved = contract.check(await client.post(f"/api/mp/proxies/{grant['id']}/decision", headers=father_headers, json={"approve": True}))
    assert approved["status"] == "active"

    year = contract.check(await client.get("/api/mp/my-year", headers=son_headers))
    [dad] = year["people"]
    assert (dad["beneficiary_id"], dad["acting_as"], dad["relation"], dad["scopes"]) == (father.id, "proxy", "子女", ["book"])
    assert dad["confirmation"] is None and dad["station"]["name"] == county.station_a.name

    application = await CardApplication.create(
        beneficiary=father, station_id=father.station_id, card_kind="veteran", batch=1, channel="on_site", status=ApplicationStatus.STATION_CHECK, step_started_on=date.today()
    )
    card = await _card_at_centre(father, application.id, "SF-J2")
    station_staff = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    collected = await client.post("/api/cards/collections", headers=station_staff, json={"station_id": county.station_a.id, "card_ids": [card.id]})
    assert collected.status_code == 200 and [c["status"] for c in contract.check(collected)["items"]] == ["at_station"]  # the staff side is published too
    cards = contract.check(await client.get("/api/mp/cards/mine", headers=son_headers))
    assert [(c["beneficiary_name"], c["can_book"]) for c in cards["items"]] == [("张德福", True)]

    first, _ = await _slots(county.station_a.id)
    booked = await client.post("/api/mp/cards/bookings", headers={**son_headers, "Idempotency-Key": "son-1"}, json={"card_id": card.id, "slot_id": first.id})
    assert booked.status_code == 201 and contract.check(booked)["as_proxy"] is True
    listed = contract.check(await client.get("/api/mp/cards/bookings", headers=son_headers))
    assert [b["beneficiary_name"] for b in listed["items"]] == ["张德福"]
    # The son booked with only `book`: he still hears that the booking is confirmed.
    son = await MiniUser.get(openid="o-journey-son")
    confirmations = {n.user_id: n for n in await Notification.filter(template_key="booking_confirmed")}
    assert son.id in confirmations and confirmations[son.id].context["recipient_role"] == "proxy"


async def test_card_ready_message_words_it_for_a_proxy(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    county = await _county_with_contacts()
    father = await make_beneficiary(station=county.station_a, name="王大山")
    father_user, _ = await MiniUser.create(openid="o-ready-father"), None
    daughter = await MiniUser.create(openid="o-ready-daughter")
    from tests.cards.helpers import bind, proxy

    await bind(father_user, father)
    await proxy(daughter, father, ["collect"])
    application = await CardApplication.create(
        beneficiary=father, station_id=father.station_id, card_kind="veteran", batch=1, channel="on_site", status=ApplicationStatus.STATION_CHECK, step_started_on=date.today()
    )
    card = await _card_at_centre(father, application.id, "SF-J3")
    station_staff = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    assert (await client.post("/api/cards/collections", headers=station_staff, json={"station_id": county.station_a.id, "card_ids": [card.id]})).status_code == 200
    by_user = {n.user_id: render("card_ready_for_pickup", n.context).values()["thing4"] for n in await Notification.filter(template_key="card_ready_for_pickup")}
    assert by_user == {father_user.id: "请本人携带身份证原件前往领取", daughter.id: "请携带持证人和您的身份证原件代领"}


async def test_card_plan_journey_appointment_to_apply_on_site_forms_bank_withdraw_catalogue(client: httpx.AsyncClient, app: Sanic, wechat_standin: StandinControl) -> None:
    """The person books a time to apply at the station, applies there, prints the forms, links a
    debit card, withdraws, and (once approved) reads the district's 优待目录 — every answer checked
    against the published document."""
    contract = await Contract.load(client)
    county = await _county_with_contacts()
    person = await make_beneficiary(station=county.station_a, name="陈国华", address="伊山镇东风路18号", phone="13800000000")
    headers = await mini_login(client, wechat_standin, "o-journey-chen")
    assert (await _bind(client, contract, headers, person)).status_code == 201

    timeline = contract.check(await client.get("/api/mp/cards/timeline", headers=headers))
    assert [b["label"] for b in timeline["batches"]] == ["第一批次", "第二批次", "第三批次"] and timeline["review_period"]["to"][5:] == "11-30"

    # The station opens times to apply; the person books one, retries safely, cancels and books again.
    station = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    opened = await client.post("/api/cards/application-slots", headers=station, json={"station_id": county.station_a.id, "start": (date.today() + timedelta(days=3)).isoformat(), "days": 14, "windows": [["09:00", "10:00"]], "capacity": 1})
    assert opened.status_code == 201, opened.text
    slots = contract.check(await client.get(f"/api/mp/cards/application-slots?beneficiary_id={person.id}", headers=headers))["items"]
    assert slots and slots[0]["available"] == 1 and slots[0]["start_time"] == "09:00"
    unkeyed = await client.post("/api/mp/cards/application-appointments", headers=headers, json={"beneficiary_id": person.id, "slot_id": slots[0]["id"]})
    assert unkeyed.status_code == 400 and contract.check(unkeyed)["error"]["code"] == "idempotency_key_required"
    first = await client.post("/api/mp/cards/application-appointments", headers={**headers, "Idempotency-Key": "chen-1"}, json={"beneficiary_id": person.id, "slot_id": slots[0]["id"]})
    assert first.status_code == 201 and contract.check(first)["status"] == "active"
    retried = await client.post("/api/mp/cards/application-appointments", headers={**headers, "Idempotency-Key": "chen-1"}, json={"beneficiary_id": person.id, "slot_id": slots[0]["id"]})
    assert retried.status_code == 200 and contract.check(retried)["id"] == first.json()["id"]
    twice = await client.post("/api/mp/cards/application-appointments", headers={**headers, "Idempotency-Key": "chen-2"}, json={"beneficiary_id": person.id, "slot_id": slots[1]["id"]})
    assert twice.status_code == 409 and contract.check(twice)["error"]["code"] == "appointment_exists"
    cancelled = contract.check(await client.post(f"/api/mp/cards/application-appointments/{first.json()['id']}/cancel", headers=headers))
    assert cancelled["status"] == "cancelled"
    again = await client.post("/api/mp/cards/application-appointments", headers={**headers, "Idempotency-Key": "chen-3"}, json={"beneficiary_id": person.id, "slot_id": slots[0]["id"]})
    assert again.status_code == 201
    appointment = contract.check(again)
    assert (await client.post("/api/cards/application-appointments/check-in", headers=station, json={"short_code": appointment["short_code"]})).json()["status"] == "checked_in"
    late = await client.post(f"/api/mp/cards/application-appointments/{appointment['id']}/cancel", headers=headers)
    assert late.status_code == 409 and contract.check(late)["error"]["code"] == "appointment_not_active"

    # Applied at the counter: the forms to sign, the debit card, then a change of mind.
    created = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    forms = await client.get(f"/api/mp/cards/applications/{app_id}/forms", headers=headers)
    assert forms.status_code == 200 and forms.headers["content-type"].startswith("text/html")
    assert "text/html" in contract.operation("GET", f"/api/mp/cards/applications/{app_id}/forms")["responses"]["200"]["content"]
    assert "陈国华" in forms.text and decrypt_id_number(person) in forms.text
    bad = await client.post(f"/api/mp/cards/applications/{app_id}/bank", headers=headers, json={"bank_name": "中国农业银行", "account": "6228-48"})
    assert bad.status_code == 422 and contract.check(bad)["error"]["code"] == "bad_bank_account"
    banked = contract.check(await client.post(f"/api/mp/cards/applications/{app_id}/bank", headers=headers, json={"bank_name": "中国农业银行", "account": "6228 4800 1234 5678 901"}))
    assert banked["bank"] == {"bank_name": "中国农业银行", "account_masked": "****8901"} and banked["beneficiary_name"] == "陈国华"
    no_reason = await client.post(f"/api/mp/cards/applications/{app_id}/withdraw", headers=headers, json={"reason": " "})
    assert no_reason.status_code == 422 and contract.check(no_reason)["error"]["code"] == "reason_required"
    withdrawn = contract.check(await client.post(f"/api/mp/cards/applications/{app_id}/withdraw", headers=headers, json={"reason": "本人暂不申领"}))
    assert (withdrawn["status"], withdrawn["status_label"], withdrawn["due_date"]) == ("withdrawn", "已撤回", None)
    twice = await client.post(f"/api/mp/cards/applications/{app_id}/withdraw", headers=headers, json={"reason": "再次撤回"})
    assert twice.status_code == 409 and contract.check(twice)["error"]["code"] == "not_withdrawable"
    history = contract.check(await client.get(f"/api/mp/cards/applications/{app_id}", headers=headers))["history"]
    assert history[-1]["to_status"] == "withdrawn" and history[-1]["reason"] == "申请人：本人暂不申领"

    # The 优待目录 is for holders: refused before approval, shown once the district publishes it.
    refused = await client.get(f"/api/mp/cards/catalogue?beneficiary_id={person.id}", headers=headers)
    assert refused.status_code == 403 and contract.check(refused)["error"]["code"] == "not_a_holder"
    reapplied = await client.post("/api/cards/applications", headers=station, json={"beneficiary_id": person.id, "card_kind": "veteran"})
    await CardApplication.filter(id=reapplied.json()["id"]).update(status=ApplicationStatus.APPROVED, open_key=None)
    unpublished = await client.get(f"/api/mp/cards/catalogue?beneficiary_id={person.id}", headers=headers)
    assert unpublished.status_code == 404 and contract.check(unpublished)["error"]["code"] == "catalogue_not_published"
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    items = [{"area": "交通出行", "content": "乘坐市内公交车免费", "provider": "县交通运输局"}, {"area": "文化旅游", "content": "国有景区门票减免"}]
    assert (await client.post("/api/cards/catalogue", headers=bureau, json={"title": "灌云县优待目录", "items": items})).status_code == 201
    shown = contract.check(await client.get(f"/api/mp/cards/catalogue?beneficiary_id={person.id}", headers=headers))
    assert shown["title"] == "灌云县优待目录" and [i["area"] for i in shown["items"]] == ["交通出行", "文化旅游"] and shown["items"][1]["provider"] == ""
    assert "特权证" in shown["note"] and shown["version"] == 1
