"""Reading the State Council's yearly holiday notice as the operator pastes it.

The notice (国务院办公厅关于YYYY年部分节假日安排的通知) is published as Chinese text, one holiday
per numbered line::

    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。

:func:`parse_notice` reads those lines (full-width or half-width punctuation, 周X or 星期X) and
checks what can be checked on the text itself:

- every weekday named in brackets is the weekday of its date;
- "共N天" (or "放假N天") is the length of the block;
- make-up days (上班) are weekend days, and no day is both a rest day and a make-up day.

A line that fails a check is refused with its line number and text. Lines that are not numbered
holiday lines (the title, the preamble, the closing words) are skipped, except that the year is
read from the title (``关于2027年部分节假日安排``) when it is not given.

:func:`parse_schedule_json` reads the small JSON form instead::

    {"year": 2027, "source": "国办发明电〔2026〕X号",
     "holidays": ["2027-01-01", ...], "workdays": ["2027-02-20", ...]}
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from mediation_flow.errors import InvalidData

__all__ = ["HolidayBlock", "ParsedNotice", "parse_notice", "parse_schedule_json", "read_schedule"]

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_NUMERALS = "一二三四五六七八九十"
_DAY = timedelta(days=1)
# A date as the notice writes it: [YYYY年][M月]D日, then an optional bracket (weekday, lunar date).
_DATE = (
    r"(?:(?P<{p}y>\d{{4}})年)?(?:(?P<{p}m>\d{{1,2}})月)?(?P<{p}d>\d{{1,2}})日"
    r"(?:\((?P<{p}note>[^)]*)\))?"
)
# A holiday line: numbered 一、 (as published) or 1. / 1、 (as some copies print it).
_LINE = re.compile(
    rf"^\s*(?:[{_NUMERALS}]+、|\d{{1,2}}\s*[.、])\s*(?P<name>[^:]+?)\s*:\s*(?P<body>.+)$"
)
_BLOCK = re.compile(
    _DATE.format(p="a")
    + r"(?:至"
    + _DATE.format(p="b")
    + r")?放假(?:调休)?(?P<n1>\d+)?天?(?:[,，]?\s*共(?P<n2>\d+)天)?"
)
_ONE_DATE = re.compile(_DATE.format(p="w"))
_WORKED = re.compile(r"(?P<dates>(?:[^。;]*?日(?:\([^)]*\))?[、和及]?)+?)\s*上班")
_TITLE_YEAR = re.compile(r"关于\s*(\d{4})\s*年")


@dataclass(frozen=True)
class HolidayBlock:
    """One holiday line of a notice as understood."""

    line: int
    name: str
    first: date
    last: date
    workdays: tuple[date, ...]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class ParsedNotice:
    """A year's schedule read from a notice: ``holidays`` every day of every block, ``workdays``
    the make-up working days; ``blocks`` the holiday lines (none for the JSON form)."""

    year: int
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]
    source: str
    blocks: tuple[HolidayBlock, ...] = ()

    def summary(self) -> str:
        """What was understood, one line per holiday (zh-CN weekday names)."""
        names = "一二三四五六日"
        lines = [f"{self.year}年节假日安排（{self.source}）"]
        for b in self.blocks:
            worked = "、".join(f"{d:%m-%d}（周{names[d.weekday()]}）" for d in b.workdays)
            lines.append(
                f"  {b.name}：{b.first:%m-%d}（周{names[b.first.weekday()]}）至"
                f"{b.last:%m-%d}（周{names[b.last.weekday()]}）共{b.days}天"
                + (f"；上班：{worked}" if worked else "；不调休")
            )
        lines.append(f"  放假 {len(self.holidays)} 天，调休上班 {len(self.workdays)} 天")
        return "\n".join(lines)


def _normalise(text: str) -> str:
    # Full-width brackets, colons, commas and digits become half-width (NFKC); ideographic
    # punctuation the notice uses (、。) stays.
    return unicodedata.normalize("NFKC", text)


def _refuse(line_no: int, text: str, reason: str) -> InvalidData:
    shown = text.strip()
    if len(shown) > 80:
        shown = shown[:80] + "…"
    return InvalidData("calendar import", f"line {line_no}", f"{reason}: {shown}")


def _date(
    match: re.Match[str], prefix: str, year: int, month: int | None, line_no: int, text: str
) -> date:
    y = int(match[f"{prefix}y"]) if match[f"{prefix}y"] else year
    m = int(match[f"{prefix}m"]) if match[f"{prefix}m"] else month
    if m is None:
        raise _refuse(line_no, text, "a date has no month")
    try:
        day = date(y, m, int(match[f"{prefix}d"]))
    except ValueError:
        raise _refuse(line_no, text, f"{y}年{m}月{match[f'{prefix}d']}日 is not a date") from None
    note = match[f"{prefix}note"] or ""
    named = re.search(r"(?:周|星期)([一二三四五六日天])", note)
    if named is not None and _WEEKDAYS[named[1]] != day.weekday():
        actual = "一二三四五六日"[day.weekday()]
        raise _refuse(
            line_no, text, f"{day:%Y-%m-%d} is a 周{actual}, but the notice says {named[0]}"
        )
    return day


def parse_notice(text: str, *, year: int | None = None, source: str | None = None) -> ParsedNotice:
    """Read a State Council holiday notice (see the module docstring). ``year`` defaults to the
    year in the title; ``source`` to the title line. Raises ``InvalidData`` naming the line."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidData("calendar import", "notice", "is empty")
    if len(text) > 100_000:
        raise InvalidData("calendar import", "notice", "is longer than 100,000 characters")
    lines = _normalise(text).splitlines()
    title = next((ln.strip() for ln in lines if _TITLE_YEAR.search(ln)), None)
    if year is None:
        found = _TITLE_YEAR.search(title or "")
        if found is None:
            raise InvalidData(
                "calendar import",
                "year",
                "the notice has no title with the year (关于YYYY年部分节假日安排); give the year",
            )
        year = int(found[1])
    blocks: list[HolidayBlock] = []
    for line_no, raw in enumerate(lines, start=1):
        line = _LINE.match(raw)
        if line is None:
            if ("放假" in raw or "上班" in raw) and not _TITLE_YEAR.search(raw):
                raise _refuse(
                    line_no,
                    raw,
                    "this line mentions 放假/上班 but is not a numbered holiday line "
                    "(一、元旦：…); paste the notice with one holiday per line",
                )
            continue
        body = line["body"]
        found_block = _BLOCK.search(body)
        if found_block is None:
            raise _refuse(line_no, raw, "no rest days (…至…放假…) found in this holiday line")
        # A New Year block may start in December of the year before ("12月31日至1月2日").
        start_year = year - 1 if found_block["am"] == "12" and "元旦" in line["name"] else year
        first = _date(found_block, "a", start_year, None, line_no, raw)
        last = first
        if found_block["bd"]:
            month = first.month if not found_block["bm"] else None
            end_year = first.year
            if found_block["bm"] and int(found_block["bm"]) < first.month:
                end_year += 1  # "12月31日至1月2日": the next year
            last = _date(found_block, "b", end_year, month, line_no, raw)
            if last < first and not found_block["bm"]:  # "1月30日至2日": the next month
                last = _date(found_block, "b", first.year, first.month % 12 + 1, line_no, raw)
        if last < first:
            raise _refuse(line_no, raw, "the block ends before it starts")
        count = found_block["n2"] or found_block["n1"]
        days = (last - first).days + 1
        if count is not None and int(count) != days:
            raise _refuse(
                line_no,
                raw,
                f"the notice says 共{count}天 but {first:%m-%d} to {last:%m-%d} is {days} days",
            )
        worked: list[date] = []
        rest_of_line = body[found_block.end() :]
        for part in _WORKED.finditer(rest_of_line):
            same_month: int | None = None  # "1月5日、6日上班": the 6th is in January too
            for one in _ONE_DATE.finditer(part["dates"]):
                in_year = year if one["wm"] != "12" else first.year
                day = _date(one, "w", in_year, same_month, line_no, raw)
                worked.append(day)
                same_month = day.month
        for d in worked:
            if d.weekday() < 5:
                raise _refuse(line_no, raw, f"make-up day {d:%Y-%m-%d} is not a weekend day")
            if first <= d <= last:
                raise _refuse(line_no, raw, f"{d:%Y-%m-%d} is both a rest day and a working day")
        blocks.append(HolidayBlock(line_no, line["name"].strip(), first, last, tuple(worked)))
    if not blocks:
        raise InvalidData(
            "calendar import",
            "notice",
            "no numbered holiday line (一、元旦：…放假…) was found; paste the notice's text, "
            "one holiday per line",
        )
    rest = {b.first + i * _DAY for b in blocks for i in range(b.days)}
    for b in blocks:
        for d in b.workdays:
            if d in rest:
                raise _refuse(b.line, lines[b.line - 1], f"{d:%Y-%m-%d} is also a rest day")
    return ParsedNotice(
        year,
        tuple(sorted(rest)),
        tuple(sorted({d for b in blocks for d in b.workdays})),
        source or title or f"{year}年部分节假日安排",
        tuple(blocks),
    )


def parse_schedule_json(text: str) -> ParsedNotice:
    """Read the JSON form (module docstring); each rest day becomes a one-day block."""
    if len(text) > 100_000:
        raise InvalidData("calendar import", "json", "is longer than 100,000 characters")
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidData("calendar import", "json", f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(data, dict) or set(data) - {"year", "holidays", "workdays", "source"}:
        raise InvalidData(
            "calendar import", "json", "expected an object with year, holidays, workdays, source"
        )
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise InvalidData("calendar import", "year", "must be a whole number")

    def days(name: str) -> list[date]:
        values = data.get(name, [])
        if not isinstance(values, list) or len(values) > 366:
            raise InvalidData("calendar import", name, "must be a list of at most 366 dates")
        out = []
        for value in values:
            try:
                out.append(date.fromisoformat(value))
            except (TypeError, ValueError):
                raise InvalidData(
                    "calendar import", name, f"{str(value)[:40]!r} is not a YYYY-MM-DD date"
                ) from None
        return out

    source = data.get("source") or f"{year}年部分节假日安排"
    if not isinstance(source, str):
        raise InvalidData("calendar import", "source", "must be text")
    rest, work = days("holidays"), days("workdays")
    return ParsedNotice(year, tuple(sorted(set(rest))), tuple(sorted(set(work))), source)


def read_schedule(text: str, *, year: int | None = None) -> ParsedNotice:
    """A notice's text or the JSON form, told apart by the first character."""
    if text.lstrip().startswith("{"):
        parsed = parse_schedule_json(text)
        if year is not None and parsed.year != year:
            raise InvalidData("calendar import", "year", f"the file is for {parsed.year}")
        return parsed
    return parse_notice(text, year=year)
