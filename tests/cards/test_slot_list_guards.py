"""The slot list reads its guards (who may act, the card at its station) with the card in one statement:
the same answers as the shared rule (server.acting) gives, for self, proxies, strangers and full slots."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sanic import Sanic

from models.cards import Card, CardStatus, PickupSlot
from server.clock import china_today
from tests.cards.helpers import bind, mini_headers, proxy, ready_card
from tests.factories import make_beneficiary, make_county


async def test_slot_list_guards_and_rows(client: httpx.AsyncClient, app: Sanic) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="王志强")
    card = await ready_card(app, person, tracking="SF-SLOTS1")
    day = china_today() + timedelta(days=20)
    free = await PickupSlot.create(station=county.station_a, day=day, start_time="09:00", end_time="10:00", capacity=3, booked=1)
    await PickupSlot.create(station=county.station_a, day=day, start_time="10:00", end_time="11:00", capacity=2, booked=2)  # full: not offered
    await PickupSlot.create(station=county.station_b, day=day, start_time="09:00", end_time="10:00", capacity=3)  # another station
    await PickupSlot.create(station=county.station_a, day=china_today() - timedelta(days=1), start_time="09:00", end_time="10:00", capacity=3)  # past

    self_user, own = await mini_headers(app, "slot-self")
    await bind(self_user, person)
    listed = await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=own)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["card_id"] == card.id and body["station"]["id"] == county.station_a.id and body["station"]["name"] == county.station_a.name
    assert [(s["id"], s["available"], s["station_id"], s["day"], s["ends_at"][11:16]) for s in body["items"]] == [(free.id, 2, county.station_a.id, day.isoformat(), "10:00")]

    answers = {}
    for scopes in (["book"], ["collect"], ["apply"], None):
        user, headers = await mini_headers(app, f"slot-proxy-{scopes}")
        if scopes is not None:
            await proxy(user, person, scopes)
        answer = await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=headers)
        answers[str(scopes)] = (answer.status_code, answer.json().get("error", {}).get("code"), answer.json().get("error", {}).get("details", {}).get("scope"))
    assert answers == {"['book']": (200, None, None), "['collect']": (200, None, None), "['apply']": (403, "proxy_scope_missing", "book"), "None": (403, "not_authorised_for_beneficiary", None)}

    missing = await client.get(f"/api/mp/cards/slots?card_id={card.id + 1000}", headers=own)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "card_not_found"
    await Card.filter(id=card.id).update(status=CardStatus.DELIVERED)
    gone = await client.get(f"/api/mp/cards/slots?card_id={card.id}", headers=own)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "card_not_ready"
