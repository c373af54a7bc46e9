"""One helper for every console list: total, paging, sorting (pinyin for names), the filters the API
offers, and the clerk's search (a name, the last 4 characters of the ID number, a phone number or its
end, a village or address). A page declares its list once (``ListSpec``); the same declaration says
which query parameters the page understands, reads and checks them (a bad value is a Chinese 400
page), and renders the search bar, sortable headers and pager (``_listing.html``).

Most services return whole lists (one district's rows); those are searched, sorted and paged here in
memory. A list paged in the database (the people list) uses ``Listing.window`` with its own count."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sanic import Request

from server.console.work import pinyin_key
from server.errors import BadRequest

Row = dict[str, Any]
ALL = "all"  # the tab that shows every value of a filter which has a default (a tab with no value would fall back to the default)


@dataclass(frozen=True)
class Filter:
    """A choice the API offers as a query parameter. ``field``: the row key compared in memory; None when
    the handler passes the value to the service itself."""

    name: str
    label: str
    choices: dict[str, str]
    field: str | None = None
    default: str = ""
    all_label: str | None = "全部"  # None: a value must be chosen (a tab with a default)


@dataclass(frozen=True)
class Sort:
    label: str
    key: Callable[[Row], Any]


def by_name(field_name: str = "name") -> Sort:
    return Sort("姓名", lambda r: pinyin_key(str(r.get(field_name) or "")))


def by(field_name: str, label: str, *, missing: Any = "9999") -> Sort:
    return Sort(label, lambda r: (r.get(field_name) is None, r.get(field_name) if r.get(field_name) is not None else missing))


@dataclass(frozen=True)
class ListSpec:
    """What one list offers. ``prefix`` keeps two lists on one page apart (``slot_page`` beside ``page``)."""

    sorts: dict[str, Sort] = field(default_factory=dict)
    default_sort: str = ""
    filters: Sequence[Filter] = ()
    search: bool = True
    search_hint: str = "姓名、身份证号后4位、电话或村（社区）"
    page_size: int = 30
    prefix: str = ""

    def arg(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def args(self) -> set[str]:
        names = {"page"} | ({"sort"} if self.sorts else set()) | ({"q"} if self.search else set()) | {f.name for f in self.filters}
        return {self.arg(n) for n in names}

    def read(self, request: Request, *, choices: dict[str, dict[str, str]] | None = None) -> Listing:
        """The list's parameters from the address; ``choices`` supplies choices known only at request time
        (the stations in the clerk's scope)."""
        values: dict[str, str] = {}
        filters = []
        for f in self.filters:
            f = Filter(f.name, f.label, (choices or {}).get(f.name, f.choices), f.field, f.default, f.all_label)
            filters.append(f)
            raw = (request.args.get(self.arg(f.name)) or "").strip()
            if raw and raw not in f.choices:
                raise BadRequest(f"参数“{f.label}”的取值不正确，请从页面上的选项重新选择", code="bad_query_parameter")
            values[f.name] = raw or f.default
        sort = (request.args.get(self.arg("sort")) or "").strip() or self.default_sort
        if self.sorts and sort.lstrip("-") not in self.sorts:
            raise BadRequest("参数“排序”的取值不正确，请点击表头排序", code="bad_query_parameter")
        raw_page = (request.args.get(self.arg("page")) or "").strip()
        if raw_page and not (raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= 6 and int(raw_page) >= 1):
            raise BadRequest("参数“页码”应为正整数，请从页面上的页码进入", code="bad_query_parameter")
        q = (request.args.get(self.arg("q")) or "").strip()[:40] if self.search else ""
        base = {k: v for k, v in request.args.items() if k not in self.args}  # other lists' parameters stay as they are
        return Listing(spec=self, filters=filters, values=values, sort=sort, q=q, page=int(raw_page or 1), path=request.path, others={k: v[0] for k, v in base.items() if k != "msg"})


def matches(row: Row, q: str) -> bool:
    """The clerk's search over one row (name, masked ID number, phone, village, address, extra text)."""
    if not q:
        return True
    q_upper = q.upper()
    id_number = str(row.get("id_number") or "").upper()
    phone = str(row.get("phone") or "")
    if len(q) == 4 and (q.isdigit() or (q[:3].isdigit() and q_upper[3] == "X")):
        return id_number.endswith(q_upper) or phone.endswith(q)
    if q.isdigit() and len(q) >= 5:
        return q in phone or q in str(row.get("search_extra") or "")
    text = " ".join(str(row.get(k) or "") for k in ("name", "village", "address", "station", "search_extra")).upper()
    return q_upper in text


@dataclass
class Listing:
    spec: ListSpec
    filters: list[Filter]
    values: dict[str, str]
    sort: str
    q: str
    page: int
    path: str
    others: dict[str, str]
    total: int = 0
    pages: int = 1
    items: list[Row] = field(default_factory=list)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def apply(self, rows: list[Row]) -> Listing:
        """Filter (in-memory filters), search, sort and cut one page."""
        for f in self.filters:
            chosen = self.values.get(f.name)
            if f.field and chosen and chosen != ALL:
                rows = [r for r in rows if str(r.get(f.field)) == chosen]
        rows = [r for r in rows if matches(r, self.q)]
        if self.sort and self.spec.sorts:
            sort = self.spec.sorts[self.sort.lstrip("-")]
            rows = sorted(rows, key=sort.key, reverse=self.sort.startswith("-"))
        self.window(len(rows))
        size = self.spec.page_size
        self.items = rows[(self.page - 1) * size : self.page * size]
        return self

    def window(self, total: int) -> tuple[int, int]:
        """For a list paged in the database: offset and limit of this page (a page past the end is a 400)."""
        self.total = total
        self.pages = max(1, (total + self.spec.page_size - 1) // self.spec.page_size)
        if self.page > self.pages:
            raise BadRequest(f"共 {self.pages} 页，没有第 {self.page} 页", code="bad_query_parameter")
        return (self.page - 1) * self.spec.page_size, self.spec.page_size

    def link(self, **changes: Any) -> str:
        """This page's address with some of this list's parameters changed (``page=None`` drops one);
        a new filter or search goes back to page 1."""
        mine = {"q": self.q, "sort": self.sort if self.sort != self.spec.default_sort else "", **{f.name: self.values.get(f.name, "") for f in self.filters}, "page": str(self.page) if self.page > 1 else ""}
        if any(k != "page" for k in changes):
            mine["page"] = ""
        mine.update({k: "" if v is None else str(v) for k, v in changes.items()})
        params = {**self.others, **{self.spec.arg(k): v for k, v in mine.items() if v}}
        return self.path + ("?" + urlencode(params) if params else "")

    def sort_link(self, key: str) -> str:
        return self.link(sort=f"-{key}" if self.sort == key else key)

    def arrow(self, key: str) -> str:
        return " ↑" if self.sort == key else (" ↓" if self.sort == f"-{key}" else "")

    @property
    def hidden(self) -> dict[str, str]:
        """Parameters the search form carries along (sort, other lists' state)."""
        kept = dict(self.others)
        if self.sort and self.sort != self.spec.default_sort:
            kept[self.spec.arg("sort")] = self.sort
        return kept
