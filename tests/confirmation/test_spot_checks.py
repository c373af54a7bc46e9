"""Spot checks: a seeded random sample of the confirmed, re-drawable; results per station; the
fewer-than-two warning."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx

from models.audit import AuditEntry
from models.confirmation import Confirmation, ConfirmationMethod, ConfirmationStatus, SpotCheckItem
from tests.confirmation.helpers_admin import china_today, office, open_campaign, people, set_state


async def test_seeded_sample_redraws_the_same_and_warns_below_two(client: httpx.AsyncClient) -> None:
    o = await office(client)
    today = china_today()
    group_a = await people(o.county.station_a, [f"甲{i}" for i in range(9)])
    group_b = await people(o.county.station_b, [f"乙{i}" for i in range(5)])
    running = await open_campaign(o.county.district, implementation_end=today + timedelta(days=3))
    confirmed = [*group_a[:7], *group_b[:5]]
    for person in confirmed:
        await set_state(running, person, ConfirmationStatus.CONFIRMED, ConfirmationMethod.HOME_VISIT, home_visited=True)
    url = f"/api/campaigns/{running.id}/spot-checks"
    assert (await client.post(url, headers=o.bureau, json={"size": 3})).json()["error"]["code"] == "implementation_not_finished"
    await Confirmation.filter(campaign_id=running.id).delete()
    await running.delete()

    campaign = await open_campaign(o.county.district, implementation_end=today - timedelta(days=1))
    for person in confirmed:
        await set_state(campaign, person, ConfirmationStatus.CONFIRMED, ConfirmationMethod.HOME_VISIT, home_visited=True)
    url = f"/api/campaigns/{campaign.id}/spot-checks"
    status = (await client.get(url, headers=o.station_a)).json()
    assert status["spot_checks"] == [] and "少于规定的2次" in status["warning"]
    assert (await client.post(url, headers=o.station_a, json={"size": 3})).status_code == 403
    assert (await client.post(url, headers=o.bureau, json={})).json()["error"]["code"] == "sample_size_required"

    first = (await client.post(url, headers=o.bureau, json={"size": 5, "seed": "2026-第一次抽查"})).json()
    assert (first["sample_size"], first["population"], first["seed"]) == (5, 12, "2026-第一次抽查")
    # Anyone can re-draw it: random.Random(seed).sample over the confirmed, ordered by id.
    population = await Confirmation.filter(campaign_id=campaign.id, status=ConfirmationStatus.CONFIRMED).order_by("id").values_list("id", flat=True)
    expected = sorted(random.Random("2026-第一次抽查").sample(population, 5))
    items = await SpotCheckItem.filter(spot_check_id=first["id"]).order_by("confirmation_id").values_list("confirmation_id", flat=True)
    assert list(items) == expected
    verified = (await client.get(f"/api/spot-checks/{first['id']}/verify", headers=o.centre)).json()
    assert verified["matches"] is True and verified["population_unchanged"] is True and verified["sample"] == expected
    drawn = await AuditEntry.filter(action="spot_check.drawn").first()
    assert drawn is not None and drawn.summary["details"]["seed"] == "2026-第一次抽查" and drawn.summary["details"]["sample"] == expected
    summary = (await client.get(f"/api/campaigns/{campaign.id}/summary", headers=o.bureau)).json()
    assert summary["open_problems"]["spot_checks_done"] == 1 and summary["open_problems"]["spot_check_warning"]

    second = (await client.post(url, headers=o.centre, json={"percentage": 25})).json()
    assert second["sample_size"] == 3 and second["seed"]
    assert (await client.get(f"/api/spot-checks/{second['id']}/verify", headers=o.bureau)).json()["matches"] is True
    assert (await client.get(url, headers=o.bureau)).json()["warning"] is None
    assert (await client.get(f"/api/campaigns/{campaign.id}/summary", headers=o.bureau)).json()["open_problems"]["spot_check_warning"] is None

    # Results are recorded by the station of each sampled person.
    items_a = (await client.get(f"/api/spot-checks/{first['id']}/items", headers=o.station_a)).json()["items"]
    items_all = (await client.get(f"/api/spot-checks/{first['id']}/items", headers=o.bureau)).json()["items"]
    a_station = o.county.station_a.id
    assert {i["station_id"] for i in items_a} <= {a_station} and len(items_a) == sum(1 for i in items_all if i["station_id"] == a_station)
    foreign = [i for i in items_all if i["station_id"] != a_station]
    if items_a:
        ok = await client.post(f"/api/spot-check-items/{items_a[0]['id']}/result", headers=o.station_a, json={"result": "discrepancy", "notes": "住址已变更"})
        assert ok.json() == {"id": items_a[0]["id"], "result": "discrepancy"}
    if foreign:
        assert (await client.post(f"/api/spot-check-items/{foreign[0]['id']}/result", headers=o.station_a, json={"result": "verified"})).status_code == 403
    assert (await client.post(f"/api/spot-check-items/{items_all[0]['id']}/result", headers=o.bureau, json={"result": "maybe"})).status_code == 422
    assert (await client.post(f"/api/spot-check-items/{items_all[-1]['id']}/result", headers=o.bureau, json={"result": "not_reached", "notes": "电话无人接听"})).status_code == 200

    # If the population changes afterwards (a confirmed person found deceased), verification says so.
    outside = next(c for c in population if c not in expected)
    await Confirmation.filter(id=outside).update(status=ConfirmationStatus.DECEASED)
    changed = (await client.get(f"/api/spot-checks/{first['id']}/verify", headers=o.bureau)).json()
    assert changed["population_unchanged"] is False and changed["population_now"] == 11
