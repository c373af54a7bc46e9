"""Long writes as background jobs: opening a campaign answers at once (202) and fills in committed
chunks (progress endpoint, one job for two clicks, resumed after a crash, no lock held between chunks);
a notice's entries are rows of their own listed a page at a time; publication's messages are a
resumable job queuing exactly the rows notify_beneficiary would, once per person."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sanic import Sanic

from models.audit import AuditEntry
from models.confirmation import Confirmation, ConfirmationStatus, NoticeEntry, PublicNotice
from models.org import OrgKind
from models.registry import ImportBatch, ImportKind
from models.staff import Role
from models.wechat import Notification, NotificationStatus
from server import import_jobs
from server.actors import SYSTEM
from server.auth.scope import Scope
from server.confirmation import campaigns, notices
from server.notifications.outbox import notify_beneficiary
from tests.confirmation.helpers_admin import (
    add_proxy,
    bind,
    china_today,
    dates_with,
    office,
    open_campaign,
    people,
    set_state,
)
from tests.factories import make_beneficiary, staff_headers


@pytest.fixture
def background_only(app: Sanic) -> Iterator[None]:
    """Answer at once (202) instead of waiting for a small job, so it is seen running."""
    uploads = app.ctx.settings.uploads
    saved = uploads.import_inline_wait_seconds
    uploads.import_inline_wait_seconds = 0
    yield
    uploads.import_inline_wait_seconds = saved


async def _follow(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    for _ in range(600):
        progress = (await client.get(url, headers=headers)).json()
        if progress["status"] in ("done", "failed"):
            return progress
        await asyncio.sleep(0.02)
    raise AssertionError(f"job did not finish: {progress}")


async def _draft(district: Any, *, ended: bool = False) -> Any:
    today = china_today()
    scope = Scope(role=Role.ADMIN, org_unit_id=district.id, org_kind=OrgKind.DISTRICT)
    end = today - timedelta(days=2) if ended else today + timedelta(days=20)
    return await campaigns.create_campaign(scope=scope, actor=SYSTEM, year=end.year, name=None, district_id=district.id, dates=dates_with(implementation_end=end, today=today), categories=None)


def _gated_fill(monkeypatch: pytest.MonkeyPatch, *, after_chunks: int, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` before the chunk after ``after_chunks`` committed chunks (to pause or crash the job)."""
    real = campaigns._fill_chunk
    calls = {"n": 0}

    async def fill(conn: Any, *args: Any) -> int:
        calls["n"] += 1
        if calls["n"] == after_chunks + 1:
            await action()
        return await real(conn, *args)

    monkeypatch.setattr(campaigns, "_fill_chunk", fill)


async def test_opening_answers_202_and_the_progress_endpoint_follows_the_job(client: httpx.AsyncClient, background_only: None, monkeypatch: pytest.MonkeyPatch) -> None:
    o = await office(client)
    crowd = await people(o.county.station_a, [f"甲{n}" for n in range(7)]) + await people(o.county.station_b, [f"乙{n}" for n in range(5)])
    await make_beneficiary(station=o.county.station_b, on_periodic_payment=False)
    monkeypatch.setattr(campaigns, "OPEN_CHUNK_IDS", 3)  # several chunks for twelve people
    campaign = await _draft(o.county.district)
    started = await client.post(f"/api/campaigns/{campaign.id}/open", headers=o.bureau)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in ("queued", "running") and job["progress_url"] == f"/api/campaigns/{campaign.id}/opening/{job['job_id']}" and job["error"] is None
    assert (await client.get(f"/api/campaigns/{campaign.id}", headers=o.bureau)).json()["status"] == "open"  # committed before the filling
    done = await _follow(client, o.bureau, job["progress_url"])
    assert {k: done[k] for k in ("status", "created", "expected", "people")} == {"status": "done", "created": len(crowd), "expected": len(crowd), "people": len(crowd)}
    assert await Confirmation.filter(campaign_id=campaign.id).count() == len(crowd)
    assert (await client.get(job["progress_url"], headers=o.station_a)).status_code == 200  # a station of the county sees it
    assert (await client.get(f"/api/campaigns/{campaign.id}/opening/{job['job_id'] + 999}", headers=o.bureau)).json()["error"]["code"] == "job_not_found"
    again = await client.post(f"/api/campaigns/{campaign.id}/open", headers=o.bureau)
    assert again.status_code == 409 and again.json()["error"]["code"] == "campaign_already_open"
    audit = await AuditEntry.filter(entity_type="campaign", entity_id=str(campaign.id)).order_by("seq").values("action", "summary")
    assert [a["action"] for a in audit if a["action"].startswith("campaign.")] == ["campaign.created", "campaign.opened", "campaign.people_added"]
    assert audit[-1]["summary"]["details"] == {"people": len(crowd), "added": len(crowd), "job_id": job["job_id"], "resumed": False}


async def test_two_clerks_opening_at_once_get_one_job(client: httpx.AsyncClient, background_only: None) -> None:
    o = await office(client)
    await people(o.county.station_a, [f"丙{n}" for n in range(6)])
    colleague = await staff_headers(client, role=Role.BUREAU, unit=o.county.district)
    campaign = await _draft(o.county.district)
    first, second = await asyncio.gather(client.post(f"/api/campaigns/{campaign.id}/open", headers=o.bureau), client.post(f"/api/campaigns/{campaign.id}/open", headers=colleague))
    answers = sorted([first, second], key=lambda r: r.status_code)
    # Both see the one job (or the second comes after it ended and is told the campaign is open).
    assert answers[0].status_code in (200, 202), answers[0].text
    assert answers[1].status_code == 409 or answers[1].json()["job_id"] == answers[0].json()["job_id"], answers[1].text
    await _follow(client, o.bureau, answers[0].json()["progress_url"])
    assert await ImportBatch.filter(kind=ImportKind.CAMPAIGN_OPEN, subject_id=campaign.id).count() == 1
    assert await AuditEntry.filter(action="campaign.opened", entity_id=str(campaign.id)).count() == 1
    assert await Confirmation.filter(campaign_id=campaign.id).count() == 6


async def test_a_job_whose_process_died_is_taken_over_and_finishes_without_counting_twice(client: httpx.AsyncClient, app: Sanic, background_only: None, monkeypatch: pytest.MonkeyPatch) -> None:
    o = await office(client)
    crowd = await people(o.county.station_a, [f"丁{n}" for n in range(10)])
    monkeypatch.setattr(campaigns, "OPEN_CHUNK_IDS", 2)

    async def die() -> None:
        raise asyncio.CancelledError  # the process goes away: no failure recorded, the job stays "running"

    _gated_fill(monkeypatch, after_chunks=2, action=die)
    campaign = await _draft(o.county.district)
    started = (await client.post(f"/api/campaigns/{campaign.id}/open", headers=o.bureau)).json()
    task = import_jobs.running_task(started["job_id"], ImportKind.CAMPAIGN_OPEN.value)
    if task is not None:
        with pytest.raises(asyncio.CancelledError):
            await task
    cut = await ImportBatch.get(id=started["job_id"])
    assert cut.status == "running" and 0 < cut.processed_rows < len(crowd)
    added_before = await Confirmation.filter(campaign_id=campaign.id).count()
    assert added_before == cut.processed_rows  # progress commits with its chunk

    # Asking again meanwhile answers the same job; the periodic take-over resumes it after its heartbeat stops.
    assert (await client.post(f"/api/campaigns/{campaign.id}/open", headers=o.bureau)).json()["job_id"] == started["job_id"]
    monkeypatch.undo()
    monkeypatch.setattr(campaigns, "OPEN_CHUNK_IDS", 2)
    later = datetime.now(UTC) + import_jobs.STALLED_AFTER + timedelta(seconds=5)
    assert await import_jobs.resume_stalled_imports(settings=app.ctx.settings, now=later) == [started["job_id"]]
    done = await _follow(client, o.bureau, started["progress_url"])
    assert done["status"] == "done" and done["created"] == len(crowd) == done["people"] == done["expected"]
    assert await Confirmation.filter(campaign_id=campaign.id).count() == len(crowd)
    added = await AuditEntry.filter(action="campaign.people_added", entity_id=str(campaign.id)).values_list("summary", flat=True)
    assert [a["details"] for a in added] == [{"people": len(crowd), "added": len(crowd), "job_id": started["job_id"], "resumed": True}]


async def test_a_confirmation_can_be_recorded_while_the_campaign_is_still_filling(client: httpx.AsyncClient, background_only: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No lock is held between chunks: a station records someone already added while the job waits."""
    o = await office(client)
    first = await people(o.county.station_a, ["戊一", "戊二"])
    await people(o.county.station_a, [f"戊{n}" for n in range(3, 9)])
    monkeypatch.setattr(campaigns, "OPEN_CHUNK_IDS", 2)
    paused, release = asyncio.Event(), asyncio.Event()
    campaign = await _draft(o.county.district)

    async def hold() -> None:
        paused.set()
        await release.wait()

    # Before the second chunk's transaction (the first transaction is the request's own).
    real = campaigns.in_transaction
    calls = {"n": 0}

    def gated(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] != 3:
            return real(*args)

        class Paused:
            async def __aenter__(self) -> Any:
                await hold()
                self.inner = real(*args)
                return await self.inner.__aenter__()

            async def __aexit__(self, *exc: Any) -> Any:
                return await self.inner.__aexit__(*exc)

        return Paused()

    monkeypatch.setattr(campaigns, "in_transaction", gated)
    started = (await client.post(f"/api/campaigns/{campaign.id}/open", headers=o.bureau)).json()
    await asyncio.wait_for(paused.wait(), timeout=10)
    confirmation = await Confirmation.get(campaign_id=campaign.id, beneficiary_id=first[0].id)
    recorded = await asyncio.wait_for(client.post(f"/api/confirmations/{confirmation.id}/station", headers=o.station_a, json={"id_card_checked": True}), timeout=10)
    assert recorded.status_code == 200, recorded.text
    assert (await client.get(started["progress_url"], headers=o.bureau)).json()["status"] == "running"
    release.set()
    done = await _follow(client, o.bureau, started["progress_url"])
    assert done["status"] == "done" and done["people"] == 8
    assert (await Confirmation.get(id=confirmation.id)).status == ConfirmationStatus.CONFIRMED


async def test_notice_entries_are_masked_rows_listed_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    o = await office(client)
    names = ["张建国", "李四", "王", " 欧阳小明 ", "司马\u3000相如"] + [f"赵{n:02d}" for n in range(10)]
    crowd = await people(o.county.station_a, names)
    (other,) = await people(o.county.station_b, ["钱多多"])
    campaign = await open_campaign(o.county.district, implementation_end=china_today() - timedelta(days=2))
    await set_state(campaign, crowd[-1], ConfirmationStatus.CONFIRMED)
    created = await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.bureau, json={})
    assert created.status_code == 201, created.text
    notice = created.json()
    assert notice["people"] == len(names) - 1 + 1 and notice["page"] == 1
    assert await NoticeEntry.filter(notice_id=notice["id"]).count() == notice["people"]
    assert (await PublicNotice.get(id=notice["id"])).entries == []  # nothing kept as one value
    pages = []
    for page in range(1, 10):
        got = (await client.get(f"/api/notices/{notice['id']}?page={page}&page_size=4", headers=o.bureau)).json()
        assert got["page"] == page and got["page_size"] == 4 and got["people"] == notice["people"]
        if not got["entries"]:
            break
        pages.append(got["entries"])
    entries = [e for chunk in pages for e in chunk]
    assert [len(chunk) for chunk in pages] == [4, 4, 4, 3]
    # The notice's order (station, name, id) and mask_name's masking, whichever database wrote them.
    expected = sorted([(p.station_id, p.name, p.id) for p in crowd[:-1] + [other]])
    assert [e["name"] for e in entries] == [notices.mask_name(name) for _, name, _ in expected]
    assert {notices.mask_name(n) for n in ("张建国", "李四", "王", " 欧阳小明 ", "司马\u3000相如")} <= {e["name"] for e in entries}
    assert entries[0]["station"] == o.county.station_a.name and entries[-1]["station"] == o.county.station_b.name
    assert all(e["category"] and "*" in e["id_number"] for e in entries)
    assert (await client.get(f"/api/notices/{notice['id']}?page_size=5000", headers=o.bureau)).status_code == 422


async def _publish(client: httpx.AsyncClient, headers: dict[str, str], notice_id: int) -> dict[str, Any]:
    published = await client.post(f"/api/notices/{notice_id}/publish", headers=headers, files={"town_board": ("b.jpg", b"\xff\xd8\xff\xe0" + b"0" * 64, "image/jpeg")})
    assert published.status_code == 200, published.text
    return published.json()


async def test_publication_messages_are_the_same_rows_as_one_by_one_and_never_twice(client: httpx.AsyncClient, app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    o = await office(client)
    crowd = await people(o.county.station_a, [f"己{n}" for n in range(9)])
    confirmed = crowd[-1]
    user = await bind(crowd[0], "o-ji0")
    daughter = await add_proxy(crowd[0], "o-ji0-daughter")
    await add_proxy(crowd[1], "o-ji1-son")
    await bind(crowd[2], "o-ji2")
    campaign = await open_campaign(o.county.district, implementation_end=china_today() - timedelta(days=2))
    await set_state(campaign, confirmed, ConfirmationStatus.CONFIRMED)
    notice = (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.bureau, json={})).json()
    # Someone confirms between generation and publication: listed, but not told.
    await set_state(campaign, crowd[3], ConfirmationStatus.CONFIRMED)

    monkeypatch.setattr(notices, "NOTIFY_CHUNK", 3)
    published = await _publish(client, o.bureau, notice["id"])
    assert published["messages"]["status"] == "done" and published["messages"]["listed"] == 8 and published["messages"]["handled"] == 8
    rows = await Notification.filter(template_key="notice_published").order_by("dedupe_key").values("dedupe_key", "user_id", "beneficiary_id", "station_id", "status", "last_error", "context")
    # Seven told: the first by WeChat and through a proxy, the second only through a proxy, the third by
    # WeChat, four with nobody to send to (a row for staff to phone).
    assert published["messages"]["messages"] == len(rows) == 8
    assert {(r["beneficiary_id"], r["user_id"]) for r in rows if r["beneficiary_id"] == crowd[0].id} == {(crowd[0].id, user.id), (crowd[0].id, daughter.id)}
    assert {r["beneficiary_id"] for r in rows} == {p.id for p in crowd[:3] + crowd[4:8]}
    assert all(r["status"] == NotificationStatus.NO_QUOTA and r["user_id"] is None for r in rows if r["dedupe_key"].endswith(":none"))

    # The same rows as notify_beneficiary writes one person at a time (its dedupe keys, context, status).
    job = await notices.messages_job(await PublicNotice.get(id=notice["id"]))
    assert job is not None
    state = job.outcome_counts
    await Notification.filter(template_key="notice_published").delete()
    for person in crowd[:3] + crowd[4:8]:
        await notify_beneficiary(beneficiary_id=person.id, station_id=person.station_id, template_key="notice_published",
                                 context={"notice_id": notice["id"], "title": state["title"], "publisher": state["publisher"], "published_on": china_today()},
                                 dedupe_key=f"notice:{campaign.id}:{person.id}")
    one_by_one = await Notification.filter(template_key="notice_published").order_by("dedupe_key").values("dedupe_key", "user_id", "beneficiary_id", "station_id", "status", "last_error", "context")
    assert one_by_one == rows

    # The job run again from the start (a take-over that lost its cursor) queues nothing new.
    again = await import_jobs.create_task_job(kind=notices.NOTICE_MESSAGES, subject_id=notice["id"], actor=SYSTEM, total=8)
    await ImportBatch.filter(id=again.id).update(outcome_counts={k: state[k] for k in ("title", "publisher", "published_on")})
    rerun = await import_jobs.run_to_end(again.id, notices.NOTICE_MESSAGES.kind)
    assert rerun.status == "done" and rerun.outcome_counts["queued"] == 0
    assert await Notification.filter(template_key="notice_published").count() == 8
    told = await AuditEntry.filter(action="notice.people_notified").order_by("seq").values_list("summary", flat=True)
    assert told[0]["details"] == {"notice_id": notice["id"], "job_id": job.id, "listed": 8, "messages": 8}


async def test_publication_messages_resume_after_a_crash(client: httpx.AsyncClient, app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    o = await office(client)
    crowd = await people(o.county.station_a, [f"庚{n}" for n in range(10)])
    campaign = await open_campaign(o.county.district, implementation_end=china_today() - timedelta(days=2))
    notice = (await client.post(f"/api/campaigns/{campaign.id}/notices", headers=o.bureau, json={})).json()
    monkeypatch.setattr(notices, "NOTIFY_CHUNK", 3)
    real = notices.notify_beneficiaries
    calls = {"n": 0}

    async def crash_on_third(**kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise asyncio.CancelledError
        return await real(**kwargs)

    monkeypatch.setattr(notices, "notify_beneficiaries", crash_on_third)
    published = await _publish(client, o.bureau, notice["id"])
    assert published["messages"]["status"] == "running" and published["messages"]["handled"] == 6
    assert await Notification.filter(template_key="notice_published").count() == 6
    monkeypatch.setattr(notices, "notify_beneficiaries", real)
    later = datetime.now(UTC) + import_jobs.STALLED_AFTER + timedelta(seconds=5)
    resumed = await import_jobs.resume_stalled_imports(settings=app.ctx.settings, now=later)
    assert resumed == [published["messages"]["job_id"]]
    job = await import_jobs.run_to_end(resumed[0], notices.NOTICE_MESSAGES.kind)
    assert job.status == "done" and job.processed_rows == 10
    assert sorted(await Notification.filter(template_key="notice_published").values_list("beneficiary_id", flat=True)) == sorted(p.id for p in crowd)
    detail = (await client.get(f"/api/notices/{notice['id']}", headers=o.bureau)).json()
    assert detail["messages"] == {"job_id": job.id, "status": "done", "handled": 10, "listed": 10, "messages": 10, "error": None}


async def test_the_console_opens_a_campaign_and_shows_the_people_added(client: httpx.AsyncClient) -> None:
    from tests.console.test_console_http import _console_login, _csrf
    from tests.factories import make_staff

    o = await office(client)
    await people(o.county.station_a, ["辛一", "辛二", "辛三"])
    campaign = await _draft(o.county.district)
    cookie = await _console_login(client, (await make_staff(role=Role.BUREAU, unit=o.county.district)).username)
    page = (await client.get(f"/console/campaigns/{campaign.id}", headers=cookie)).text
    assert 'id="open-campaign"' in page
    opened = await client.post(f"/console/campaigns/{campaign.id}/open", headers=cookie, data={"csrf_token": _csrf(page)})
    assert opened.status_code == 302 and "msg=" in opened.headers["location"], opened.text
    after = (await client.get(f"/console/campaigns/{campaign.id}", headers=cookie)).text
    assert 'id="open-campaign"' not in after and "已加入 3 人" in after
