"""Subscribe-message templates: load ``mp_templates/*.yaml`` at start-up and render them for WeChat.

Each file describes one template (see docs/wechat.md): its key, Chinese title, the mini-program page
to open and up to five keyword fields. A field's ``text`` is a ``str.format`` template filled from
the caller's context (``{booking.office_name}`` walks dicts and attributes).

WeChat rejects a whole message with 47003 when any one value breaks its keyword's rules, and a
rejected reminder is a reminder nobody gets. So rendering makes every value fit, predictably:
``thing`` is cut to 19 characters plus "…", characters a keyword does not allow are removed, dates
and times are formatted from date/datetime objects in China time. Values that cannot be shortened
without changing their meaning (numbers, amounts, phone numbers, malformed dates) raise
``RenderError`` instead: better a visible failure than a wrong number in someone's notification.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from server.clock import CHINA_TZ

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "mp_templates"
MAX_FIELDS = 5  # WeChat subscribe templates have at most five keywords

FIELD_TYPES = (
    "thing",
    "time",
    "date",
    "phrase",
    "character_string",
    "name",
    "number",
    "amount",
    "phone_number",
)
_FILE_KEYS = {"key", "title", "page", "fields", "description", "example"}
_FIELD_KEYS = {"name", "type", "text", "default", "label", "proxy_text"}
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

THING_MAX = 20
PHRASE_MAX = 5
CHARACTER_STRING_MAX = 32
NAME_CJK_MAX = 10
NAME_LETTERS_MAX = 20
NUMBER_DIGITS_MAX = 32
AMOUNT_DIGITS_MAX = 10  # plus an optional currency sign, two decimals and a trailing 元
PHONE_MAX = 17
ELLIPSIS = "…"


class TemplateError(ValueError):
    """One or more template files are invalid; each problem names its file and field."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid subscribe-message templates:\n  " + "\n  ".join(self.problems))


class RenderError(ValueError):
    """A value cannot be made to fit its keyword, or the context lacks a placeholder."""


class MissingTemplateId(LookupError):
    """No WeChat template id is configured for a template key in this environment."""


@dataclass(frozen=True, slots=True)
class TemplateField:
    name: str  # WeChat keyword, e.g. thing1
    type: str  # keyword type, the name's prefix
    text: str  # str.format template
    default: str | None = None  # used when the filled text is empty
    label: str | None = None  # the keyword's Chinese label in the WeChat console, for humans
    proxy_text: str | None = None  # used instead of ``text`` when the recipient is a family proxy


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    key: str
    title: str
    page: str
    fields: tuple[TemplateField, ...]
    source: Path
    description: str = ""
    example: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    template_key: str
    page: str
    # WeChat's shape: {"thing1": {"value": "..."}}
    data: dict[str, dict[str, str]] = field(default_factory=dict)

    def values(self) -> dict[str, str]:
        return {name: item["value"] for name, item in self.data.items()}


# ------------------------------------------------------------------ filling placeholders


def _lookup(context: Mapping[str, Any], dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        if part.startswith("_") or not part:
            # Format strings must not reach private attributes (e.g. {x.__class__}).
            raise RenderError(f"placeholder {{{dotted}}} is not allowed")
        if isinstance(value, Mapping):
            if part not in value:
                raise RenderError(f"context has no value for placeholder {{{dotted}}}")
            value = value[part]
        elif hasattr(value, part):
            value = getattr(value, part)
        else:
            raise RenderError(f"context has no value for placeholder {{{dotted}}}")
    return value


def _china_time(value: datetime) -> datetime:
    # Naive datetimes are taken to be China time already (the service stores aware UTC datetimes).
    return value.astimezone(CHINA_TZ) if value.tzinfo else value


class _ContextFormatter(string.Formatter):
    def __init__(self, *, quote_values: bool = False) -> None:
        super().__init__()
        self._quote = quote_values

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if "[" in field_name:
            raise RenderError(f"placeholder {{{field_name}}}: use dots, not [...]")
        return _lookup(kwargs, field_name), field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            text = ""
        elif isinstance(value, datetime):
            text = format(_china_time(value), format_spec or "%Y-%m-%d %H:%M")
        elif isinstance(value, date):
            text = format(value, format_spec or "%Y-%m-%d")
        else:
            text = format(value, format_spec)
        return quote(text, safe="") if self._quote else text


def _fill(*, text: str, context: Mapping[str, Any]) -> Any:
    """The filled text; a text that is exactly one ``{placeholder}`` yields the raw value.

    Keeping the raw value lets date/time/number/amount fields format date, datetime and Decimal
    objects according to their keyword type.
    """
    parts = list(string.Formatter().parse(text))
    if len(parts) == 1 and parts[0][0] == "" and parts[0][1] and not parts[0][2] and not parts[0][3]:
        return _lookup(context, parts[0][1])
    return _ContextFormatter().vformat(text, (), context)


# ------------------------------------------------------------------ fitting values to WeChat's rules


def _clean(value: Any) -> str:
    """Text without control characters and with runs of whitespace (incl. newlines) as one space."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return " ".join(text.split())


def fit_thing(value: Any) -> str:
    text = _clean(value)
    return text if len(text) <= THING_MAX else text[: THING_MAX - 1] + ELLIPSIS


# Status words longer than a phrase keyword allows, in the short form that keeps their meaning.
# Cutting them instead turns 服务中心核实 into 服务中心核, which says nothing.
PHRASE_SHORT_FORMS = {
    "服务站受理检查": "受理中",
    "服务中心核实": "核实中",
    "事务局初审": "初审中",
    "市局审核": "审核中",
    "退回申请人补正": "待补正",
    "审核通过待制证": "审核通过",
    "待人工核验": "待核验",
    "待人工复核": "待复核",
    "未找到本人": "未找到",
    "公告停发阶段": "停发阶段",
}


def fit_phrase(value: Any) -> str:
    """Chinese characters only, at most five; a longer value needs a short form (never a blind cut)."""
    text = "".join(_CJK.findall(str(value)))
    if len(text) <= PHRASE_MAX:
        return text
    if text in PHRASE_SHORT_FORMS:
        return PHRASE_SHORT_FORMS[text]
    raise RenderError(f"phrase {text!r} is longer than {PHRASE_MAX} characters and has no short form (add one to PHRASE_SHORT_FORMS or set the field's default)")


def fit_character_string(value: Any) -> str:
    return "".join(ch for ch in str(value) if "\x21" <= ch <= "\x7e")[:CHARACTER_STRING_MAX]


def fit_name(value: Any) -> str:
    text = _clean(value)
    if _CJK.search(text):
        # WeChat wants pure Chinese: "买买提·艾力" loses its middle dot, nothing else.
        return "".join(_CJK.findall(text))[:NAME_CJK_MAX]
    letters = " ".join("".join(ch if ("A" <= ch <= "Z" or "a" <= ch <= "z") else " " for ch in text).split())
    return letters[:NAME_LETTERS_MAX].strip()


def _decimal_text(value: Any) -> str:
    if isinstance(value, bool):
        raise RenderError("a boolean is not a number")
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(str(value)), "f")
    return re.sub(r"[\s,，]", "", str(value))


def fit_number(value: Any) -> str:
    text = _decimal_text(value)
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", text):
        raise RenderError(f"number {text!r} is not a plain decimal number")
    if sum(ch.isdigit() for ch in text) > NUMBER_DIGITS_MAX:
        raise RenderError(f"number has more than {NUMBER_DIGITS_MAX} digits")
    return text


def fit_amount(value: Any) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            text = f"¥{Decimal(str(value)).quantize(Decimal('0.01'))}"
        except InvalidOperation as exc:
            raise RenderError(f"amount {value!r} is not a number") from exc
    else:
        text = re.sub(r"[\s,，]", "", str(value)).replace("￥", "¥")
    pattern = rf"[¥$€£]?\d{{1,{AMOUNT_DIGITS_MAX}}}(?:\.\d{{1,2}})?元?"
    if not re.fullmatch(pattern, text):
        raise RenderError(f"amount {text!r} must look like ¥12.00 or 12元 with at most {AMOUNT_DIGITS_MAX} digits")
    return text


def fit_phone_number(value: Any) -> str:
    text = "".join(ch for ch in str(value) if ch.isdigit() or ch in "+-() ").strip()
    if len(text) > PHONE_MAX:
        # Cutting a phone number would show a wrong number.
        raise RenderError(f"phone number longer than {PHONE_MAX} characters")
    return text


_DATE_TEXT = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}")
_TIME_TEXT = re.compile(r"(?:\d{4}-\d{2}-\d{2}|\d{4}年\d{1,2}月\d{1,2}日) \d{1,2}:\d{2}|\d{1,2}:\d{2}")


def fit_date(value: Any) -> str:
    if isinstance(value, datetime):
        value = _china_time(value).date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return _checked_range(text=_clean(value), pattern=_DATE_TEXT, kind="date", example="2026年11月24日 or 2026-11-24")


def fit_time(value: Any) -> str:
    if isinstance(value, datetime):
        return _china_time(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        raise RenderError("a time field needs a datetime, not a date (use a date field)")
    return _checked_range(text=_clean(value), pattern=_TIME_TEXT, kind="time", example="2026-11-24 09:30")


def _checked_range(*, text: str, pattern: re.Pattern[str], kind: str, example: str) -> str:
    # WeChat accepts "a~b" ranges, but only with the ASCII tilde; IMEs easily type the full-width one.
    text = text.replace("～", "~")
    parts = [part.strip() for part in text.split("~")]
    if len(parts) > 2 or not all(pattern.fullmatch(part) for part in parts):
        raise RenderError(f"{kind} {text!r} must look like {example}")
    return "~".join(parts)


_FITTERS = {
    "thing": fit_thing,
    "time": fit_time,
    "date": fit_date,
    "phrase": fit_phrase,
    "character_string": fit_character_string,
    "name": fit_name,
    "number": fit_number,
    "amount": fit_amount,
    "phone_number": fit_phone_number,
}


_TEXT_TYPES = frozenset({"thing", "phrase", "character_string", "name"})


def fit_value(*, field_type: str, value: Any) -> str:
    """``value`` made acceptable for a keyword of ``field_type`` ("" if nothing acceptable is left)."""
    if value is None:
        return ""
    if isinstance(value, str) and not value.strip():
        return ""
    if field_type in _TEXT_TYPES and not isinstance(value, str):
        # A lone {due_date} in a thing field: format it as free text would, not str(datetime).
        value = _ContextFormatter().format_field(value, "")
    return _FITTERS[field_type](value)


# ------------------------------------------------------------------ loading


def _field_problems(*, where: str, raw: Any, seen: set[str]) -> tuple[list[str], TemplateField | None]:
    if not isinstance(raw, Mapping):
        return [f"{where}: each field must be a mapping with name, type and text"], None
    name, ftype, text = raw.get("name"), raw.get("type"), raw.get("text")
    if isinstance(name, str) and name:
        where = f"{where} ({name})"
    problems = [f"{where}: unknown key {key!r}" for key in raw if key not in _FIELD_KEYS]
    if not isinstance(name, str) or not name:
        return problems + [f"{where}: missing 'name'"], None
    if name in seen:
        problems.append(f"{where}: duplicate field name")
    seen.add(name)
    if not isinstance(ftype, str) or not ftype:
        problems.append(f"{where}: missing 'type'")
    elif ftype not in FIELD_TYPES:
        problems.append(f"{where}: unknown type {ftype!r} (known: {', '.join(FIELD_TYPES)})")
    elif not re.fullmatch(rf"{ftype}\d+", name):
        problems.append(f"{where}: name does not match its type {ftype!r} (expected {ftype}<N>, e.g. {ftype}1)")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: missing 'text'")
    else:
        try:
            list(string.Formatter().parse(text))
        except ValueError as exc:
            problems.append(f"{where}: text is not a valid format string: {exc}")
    default = raw.get("default")
    if default is not None and not isinstance(default, str):
        problems.append(f"{where}: 'default' must be a string")
    label = raw.get("label")
    proxy_text = raw.get("proxy_text")
    if proxy_text is not None and (not isinstance(proxy_text, str) or not proxy_text.strip()):
        problems.append(f"{where}: 'proxy_text' must be a non-empty string")
    if problems:
        return problems, None
    return [], TemplateField(name=name, type=ftype, text=text, default=default, label=label, proxy_text=proxy_text)


def load_template_file(path: Path) -> MessageTemplate:
    """Parse and validate one template file; raise TemplateError naming the file and field."""
    where = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TemplateError([f"{where}: cannot read YAML: {exc}"]) from exc
    if not isinstance(raw, Mapping):
        raise TemplateError([f"{where}: must be a mapping with key, title, page and fields"])
    problems = [f"{where}: unknown key {key!r}" for key in raw if key not in _FILE_KEYS]
    problems += [f"{where}: missing {key!r}" for key in ("key", "title", "page", "fields") if key not in raw]
    key, title, page, fields = raw.get("key"), raw.get("title"), raw.get("page"), raw.get("fields")
    if "key" in raw and (not isinstance(key, str) or not _KEY.fullmatch(key)):
        problems.append(f"{where}: key {key!r} must be lower_snake_case")
    if "title" in raw and (not isinstance(title, str) or not title.strip()):
        problems.append(f"{where}: title must be a non-empty string")
    if "page" in raw:
        problems += _page_problems(where=where, page=page)
    parsed: list[TemplateField] = []
    if "fields" in raw:
        if not isinstance(fields, list) or not fields:
            problems.append(f"{where}: fields must be a non-empty list")
        else:
            if len(fields) > MAX_FIELDS:
                problems.append(f"{where}: {len(fields)} fields; WeChat templates have at most {MAX_FIELDS}")
            seen: set[str] = set()
            for index, item in enumerate(fields, start=1):
                field_problems, parsed_field = _field_problems(where=f"{where}: field #{index}", raw=item, seen=seen)
                problems += field_problems
                if parsed_field:
                    parsed.append(parsed_field)
    example = raw.get("example")
    if example is not None and not isinstance(example, Mapping):
        problems.append(f"{where}: example must be a mapping (a sample render context)")
    if problems:
        raise TemplateError(problems)
    template = MessageTemplate(
        key=key,
        title=title.strip(),
        page=page,
        fields=tuple(parsed),
        source=path,
        description=str(raw.get("description") or ""),
        example=example,
    )
    if example is not None:
        # The example doubles as a start-up self-test: a template that cannot render its own
        # sample would fail on its first real use.
        try:
            render_template(template, example)
        except RenderError as exc:
            raise TemplateError([f"{where}: example does not render: {exc}"]) from exc
    return template


def _page_problems(*, where: str, page: Any) -> list[str]:
    if not isinstance(page, str) or not page.strip():
        return [f"{where}: page must be a mini-program path such as pages/index/index"]
    if page.startswith("/") or "://" in page:
        return [f"{where}: page {page!r} must be a mini-program path without a leading slash"]
    try:
        list(string.Formatter().parse(page))
    except ValueError as exc:
        return [f"{where}: page is not a valid format string: {exc}"]
    return []


class TemplateRegistry:
    """All templates by key."""

    def __init__(self, templates: Mapping[str, MessageTemplate]) -> None:
        self._templates = dict(templates)

    def keys(self) -> list[str]:
        return sorted(self._templates)

    def get(self, key: str) -> MessageTemplate:
        try:
            return self._templates[key]
        except KeyError:
            raise KeyError(f"no subscribe-message template {key!r} in {TEMPLATE_DIR.name}/") from None

    def __contains__(self, key: object) -> bool:
        return key in self._templates

    def __len__(self) -> int:
        return len(self._templates)

    def render(self, key: str, context: Mapping[str, Any]) -> RenderedMessage:
        return render_template(self.get(key), context)

    def template_id(self, key: str, template_ids: Mapping[str, str]) -> str:
        """The WeChat template id for ``key`` in this environment (MissingTemplateId if unset)."""
        self.get(key)
        template_id = template_ids.get(key)
        if not template_id:
            raise MissingTemplateId(
                f"no WeChat template id configured for {key!r}: add it to VETS_WECHAT__TEMPLATE_IDS "
                f"(JSON object of template key -> id from the mini-program console)"
            )
        return template_id

    def missing_template_ids(self, template_ids: Mapping[str, str]) -> list[str]:
        """Template keys that have no id configured (report at start-up; sends for them will fail)."""
        return [key for key in self.keys() if not template_ids.get(key)]

    def unknown_template_ids(self, template_ids: Mapping[str, str]) -> list[str]:
        """Configured keys without a template file (usually a typo in the configuration)."""
        return sorted(key for key in template_ids if key not in self._templates)


def load_templates(directory: Path = TEMPLATE_DIR) -> TemplateRegistry:
    """Load and validate every ``*.yaml``/``*.yml`` in ``directory``; all problems in one error."""
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not paths:
        raise TemplateError([f"{directory}: no template files"])
    problems: list[str] = []
    templates: dict[str, MessageTemplate] = {}
    for path in paths:
        try:
            template = load_template_file(path)
        except TemplateError as exc:
            problems += exc.problems
            continue
        if template.key in templates:
            problems.append(
                f"{path.name}: duplicate key {template.key!r} (already defined in {templates[template.key].source.name})"
            )
            continue
        templates[template.key] = template
    if problems:
        raise TemplateError(problems)
    return TemplateRegistry(templates)


# ------------------------------------------------------------------ rendering


def render_template(template: MessageTemplate, context: Mapping[str, Any]) -> RenderedMessage:
    data: dict[str, dict[str, str]] = {}
    for item in template.fields:
        where = f"{template.key}.{item.name}"
        # A proxy reads the message about someone else: "请本人携带…" would tell them the wrong thing.
        text = item.proxy_text if item.proxy_text is not None and context.get("recipient_role") == "proxy" else item.text
        try:
            filled = _fill(text=text, context=context)
            try:
                value = fit_value(field_type=item.type, value=filled)
            except RenderError:
                if item.default is None or item.type != "phrase":
                    raise
                value = ""  # a phrase with no short form falls back to the field's default
            if not value and item.default is not None:
                value = fit_value(field_type=item.type, value=item.default)
        except RenderError as exc:
            raise RenderError(f"{where}: {exc}") from None
        if not value:
            raise RenderError(f"{where}: empty after removing what a {item.type} field does not allow (set a default)")
        data[item.name] = {"value": value}
    try:
        page = _ContextFormatter(quote_values=True).vformat(template.page, (), context)
    except RenderError as exc:
        raise RenderError(f"{template.key}.page: {exc}") from None
    return RenderedMessage(template_key=template.key, page=page, data=data)


@functools.cache
def default_registry() -> TemplateRegistry:
    """The registry from ``mp_templates/``, loaded once per process (call at start-up to fail fast)."""
    return load_templates(TEMPLATE_DIR)


def render(key: str, context: Mapping[str, Any]) -> RenderedMessage:
    return default_registry().render(key, context)
