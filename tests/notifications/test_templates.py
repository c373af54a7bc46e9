"""Subscribe-message templates: every file loads, renders within WeChat's limits (checked by sending
to the WeChat stand-in over HTTP), shortens predictably, and bad files fail with clear messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from server.config import WeChatSettings
from server.kv import MemoryStore
from server.notifications.templates import (
    TEMPLATE_DIR,
    MissingTemplateId,
    RenderError,
    TemplateError,
    default_registry,
    fit_value,
    load_templates,
    render,
)
from server.wechat.client import WeChatClient
from server.wechat.standin import check_message_data, run_standin

REQUIRED_KEYS = {
    "confirmation_due",
    "confirmation_result",
    "review_result",
    "booking_confirmed",
    "booking_reminder",
    "card_status_changed",
    "card_ready_for_pickup",
    "suspension_notice",
    "notice_published",
    "resumption_notice",
    "proxy_request",
}


def test_every_template_file_loads() -> None:
    registry = load_templates()
    assert REQUIRED_KEYS <= set(registry.keys())
    assert len(registry) == len(list(TEMPLATE_DIR.glob("*.yaml")))
    for key in registry.keys():
        template = registry.get(key)
        assert template.example is not None, f"{key}: add an example context"
        assert template.title and not template.page.startswith("/")


async def test_every_template_renders_within_limits_and_wechat_accepts_it() -> None:
    registry = default_registry()
    long_text = "关于进一步做好退役军人优待证申领发放及年度资格认证相关工作的补充通知（第二批）"
    async with run_standin() as standin:
        client = WeChatClient(standin.settings(), MemoryStore())
        try:
            for key in registry.keys():
                example = dict(registry.get(key).example or {})
                # Also a worst case: every string in the context far too long.
                stretched = {k: (long_text + v if isinstance(v, str) and v else v) for k, v in example.items()}
                for context in (example, stretched):
                    message = render(key, context)
                    assert check_message_data(message.data) is None, (key, message.data)
                    await client.send_subscribe_message(
                        openid="o-template-test", template_id=f"TMPL-{key}", page=message.page, data=message.data
                    )
            sent = await standin.control.messages()
            assert len(sent) == 2 * len(registry)
        finally:
            await client.aclose()


def test_long_text_is_shortened_predictably() -> None:
    thing = fit_value(field_type="thing", value="关于开展2026年度优抚对象待遇资格认证工作的通知")
    assert thing == "关于开展2026年度优抚对象待遇资格认…" and len(thing) == 20
    assert fit_value(field_type="thing", value="一二三四五六七八九十一二三四五六七八九十") == "一二三四五六七八九十一二三四五六七八九十"
    assert fit_value(field_type="thing", value="第一行\n第二行\t  第三行") == "第一行 第二行 第三行"
    assert fit_value(field_type="phrase", value="审核已通过OK") == "审核已通过"
    # Never cut mid-word: a known long status gets its short form, anything else is refused.
    assert fit_value(field_type="phrase", value="服务中心核实") == "核实中"
    with pytest.raises(RenderError, match="no short form"):
        fit_value(field_type="phrase", value="审核已通过啦啦")
    assert fit_value(field_type="phrase", value="通过 (复核)") == "通过复核"
    assert fit_value(field_type="character_string", value="预约号 YY-2026/0042 号") == "YY-2026/0042"
    assert len(fit_value(field_type="character_string", value="A" * 40)) == 32
    assert fit_value(field_type="name", value="买买提·艾力") == "买买提艾力"
    assert fit_value(field_type="name", value="欧阳" * 8) == "欧阳" * 5
    assert fit_value(field_type="name", value="Alexander Maximilian Long") == "Alexander Maximilian"


def test_dates_times_and_numbers() -> None:
    utc_evening = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # 01:30 next day in Beijing
    assert fit_value(field_type="date", value=utc_evening) == "2026年11月25日"
    assert fit_value(field_type="date", value=date(2026, 3, 1)) == "2026年3月1日"
    assert fit_value(field_type="date", value="2026-03-01") == "2026-03-01"
    assert fit_value(field_type="time", value=utc_evening) == "2026-11-25 01:30"
    assert fit_value(field_type="time", value="2026-11-24 09:00 ～ 2026-11-24 11:30") == "2026-11-24 09:00~2026-11-24 11:30"
    assert fit_value(field_type="amount", value=Decimal("12")) == "¥12.00"
    assert fit_value(field_type="amount", value="1,280.50元") == "1280.50元"
    assert fit_value(field_type="number", value=3) == "3"
    assert fit_value(field_type="phone_number", value="138 0013 8000") == "138 0013 8000"
    for field_type, bad in [
        ("date", "下周一"),
        ("time", date(2026, 1, 1)),
        ("time", "上午九点"),
        ("number", "1" * 33),
        ("number", "twelve"),
        ("amount", "12345678901"),
        ("phone_number", "1" * 18),
    ]:
        with pytest.raises(RenderError):
            fit_value(field_type=field_type, value=bad)


def test_render_context_defaults_and_page_quoting() -> None:
    message = render(
        "review_result",
        {
            "application_id": "88&x=1",
            "item_name": "年度资格认证人工复核",
            "result": "通过",
            "comment": "",
            "reviewed_at": datetime(2026, 11, 25, 15, 20),
        },
    )
    assert message.template_key == "review_result"
    assert message.page == "pages/applications/detail?id=88%26x%3D1"
    assert message.values() == {"thing1": "年度资格认证人工复核", "phrase2": "通过", "thing3": "无", "time4": "2026-11-25 15:20"}

    with pytest.raises(RenderError, match=r"review_result\.thing1.*\{item_name\}"):
        render("review_result", {"application_id": 1, "result": "通过", "comment": "", "reviewed_at": "2026-11-25 15:20"})
    # Nothing Chinese left, or too long without a short form: the field's default, never a cut word.
    for result in ("OK", "服务中心已核实通过"):
        fallback = render("review_result", {"application_id": 1, "item_name": "x", "result": result, "comment": "", "reviewed_at": "2026-11-25 15:20"})
        assert fallback.values()["phrase2"] == "请查看详情"
    assert render("card_status_changed", {"application_id": 1, "status_label": "服务中心核实", "changed_at": "2026-11-25 15:20", "note": "无"}).values()["phrase2"] == "核实中"


def test_nested_context_and_private_attributes(tmp_path: Path) -> None:
    _write(tmp_path / "nested.yaml", fields='[{name: thing1, type: thing, text: "{booking.office.name}"}]')
    registry = load_templates(tmp_path)
    assert registry.render("nested", {"booking": {"office": {"name": "城关镇服务站"}}}).values() == {"thing1": "城关镇服务站"}
    _write(tmp_path / "nested.yaml", fields='[{name: thing1, type: thing, text: "{booking.__class__}"}]')
    with pytest.raises(RenderError, match="not allowed"):
        load_templates(tmp_path).render("nested", {"booking": {}})


def test_missing_template_ids() -> None:
    registry = default_registry()
    ids = {key: f"TMPL-{key}" for key in registry.keys() if key != "proxy_request"}
    assert registry.missing_template_ids(ids) == ["proxy_request"]
    assert registry.template_id("confirmation_due", ids) == "TMPL-confirmation_due"
    with pytest.raises(MissingTemplateId, match="proxy_request"):
        registry.template_id("proxy_request", ids)
    settings = WeChatSettings(template_ids={"confirmation_due": "abc", "confirmaton_due": "typo"})
    assert registry.unknown_template_ids(settings.template_ids) == ["confirmaton_due"]
    assert "confirmation_due" not in registry.missing_template_ids(settings.template_ids)


def _write(path: Path, *, key: str | None = None, fields: str, extra: str = "") -> None:
    path.write_text(
        f"key: {key or path.stem}\ntitle: 测试模板\npage: pages/index/index\nfields: {fields}\n{extra}", encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('[{name: thing1, type: string, text: "x"}]', "bad.yaml: field #1 (thing1): unknown type 'string'"),
        ("[{name: thing1, type: thing}]", "bad.yaml: field #1 (thing1): missing 'text'"),
        ('[{name: time1, type: thing, text: "x"}]', "bad.yaml: field #1 (time1): name does not match its type 'thing'"),
        ('[{name: thing1, type: thing, text: "x"}, {name: thing1, type: thing, text: "y"}]', "bad.yaml: field #2 (thing1): duplicate field name"),
        ('[{name: thing1, type: thing, text: "{oops"}]', "bad.yaml: field #1 (thing1): text is not a valid format string"),
        ('[{type: thing, text: "x"}]', "bad.yaml: field #1: missing 'name'"),
        ("[]", "bad.yaml: fields must be a non-empty list"),
        ('[{name: thing1, type: thing, text: "x", colour: red}]', "bad.yaml: field #1 (thing1): unknown key 'colour'"),
    ],
)
def test_bad_template_file_rejected(tmp_path: Path, fields: str, message: str) -> None:
    _write(tmp_path / "good.yaml", fields='[{name: thing1, type: thing, text: "ok"}]')
    _write(tmp_path / "bad.yaml", fields=fields)
    with pytest.raises(TemplateError) as error:
        load_templates(tmp_path)
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
    assert message in str(error.value)


def test_duplicate_keys_and_broken_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", key="same_key", fields='[{name: thing1, type: thing, text: "x"}]')
    _write(tmp_path / "b.yaml", key="same_key", fields='[{name: thing1, type: thing, text: "x"}]')
    (tmp_path / "c.yaml").write_text("key: [unclosed\n", encoding="utf-8")
    (tmp_path / "d.yaml").write_text("title: 无键\n", encoding="utf-8")
    _write(
        tmp_path / "e.yaml",
        fields='[{name: date1, type: date, text: "{when}"}]',
        extra="example: {when: 下周一}\n",
    )
    with pytest.raises(TemplateError) as error:
        load_templates(tmp_path)
    text = str(error.value)
    assert "b.yaml: duplicate key 'same_key' (already defined in a.yaml)" in text
    assert "c.yaml: cannot read YAML" in text
    assert "d.yaml: missing 'key'" in text and "d.yaml: missing 'fields'" in text
    assert "e.yaml: example does not render: e.date1: date '下周一'" in text


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no template files"):
        load_templates(tmp_path)
