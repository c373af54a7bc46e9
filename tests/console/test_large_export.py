"""A long export is written page by page in write-only mode and still reads back as the same sheet."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from urllib.parse import quote

import httpx
from openpyxl import load_workbook

from models.staff import Role
from models.wechat import Notification, NotificationStatus
from tests.console.test_console_http import _console_login
from tests.factories import make_beneficiary, make_county, make_staff

ROWS = 20_000


async def test_a_20k_row_phoning_list_is_streamed_whole_and_reads_back(client: httpx.AsyncClient) -> None:
    county = await make_county()
    person = await make_beneficiary(station=county.station_a, name="=HYPERLINK(\"http://x\")", phone="13912345678")
    now = datetime.now(UTC)
    context = {"application_id": 1, "holder_name": "张三", "pickup_office": "伊山镇退役军人服务站", "pickup_deadline": "2026-12-10"}
    await Notification.bulk_create(
        [
            Notification(beneficiary_id=person.id, station_id=county.station_a.id, template_key="card_ready_for_pickup", context=context, dedupe_key=f"big-{n}", status=NotificationStatus.FAILED, next_attempt_at=now, last_error=f"第{n}条")
            for n in range(ROWS)
        ],
        batch_size=2000,
    )
    cookie = await _console_login(client, (await make_staff(role=Role.STATION, unit=county.station_a)).username)
    download = await client.get("/console/unsent.xlsx", headers=cookie)
    assert download.status_code == 200 and "filename*=UTF-8''" + quote("待电话通知名单") in download.headers["content-disposition"]
    assert download.headers["cache-control"] == "no-store" and int(download.headers["content-length"]) == len(download.content)
    book = load_workbook(BytesIO(download.content), read_only=True)
    sheet = book.active
    assert sheet.title == "待电话通知"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("姓名", "电话", "服务站", "事项", "要告知的内容", "未送达原因", "时间")
    assert len(rows) == ROWS + 1  # every row, not the first page (the in-memory list stopped at 500)
    reasons = [r[5] for r in rows[1:]]
    assert reasons[0].endswith(f"第{ROWS - 1}条") and reasons[-1].endswith("第0条")  # newest first, across pages
    assert len(set(reasons)) == ROWS  # no page written twice or skipped
    assert rows[1][0].startswith("'=") and rows[1][1] == "13912345678"  # formula neutralised, phone as text
    book.close()
    full = load_workbook(BytesIO(download.content))
    head = full.active
    assert head.freeze_panes == "A2" and head["A1"].font.bold and head.column_dimensions["E"].width == 60 and head["A2"].alignment.wrap_text
