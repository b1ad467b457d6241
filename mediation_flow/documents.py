"""Legal documents of a case: 调解协议书, 受理通知书, 不予受理通知书, 仲裁调解书, 送达回证.

A document is made in three steps, each a small function that can be used alone::

    case + history + officials' values --document_context()--> context (a dict)
    context --DocumentTemplates.render_html()--> an HTML5 page (a restricted subset, below)
    HTML page --html_to_docx()--> a Word file (DOCX) officials edit, print and seal

``DocumentTemplates.render`` runs the last two and returns a :class:`Document`: the bytes, their
SHA-256 (an event can record which document was issued without storing it) and a media type.

**Templates** are Jinja2 files shipped in ``mediation_flow/templates/<name>.html.j2``, loaded with
:mod:`importlib.resources`. Each writes the body of one document; the page around it (doctype,
``<meta charset>``, ``lang="zh-CN"``, ``<title>``, a print stylesheet with 仿宋 fonts) comes from
``_page.html.j2``, and shared pieces (the case-number line, the parties, signature lines) are
macros in ``_macros.html.j2``. ``DocumentTemplates(overrides={name: source})`` replaces a template
or adds one (regional plugins return such a mapping from the ``document_templates`` hook); an
override may extend the template it replaces through the name ``builtin:<name>`` and redefine one
of its blocks. Templates run in Jinja2's immutable sandbox with autoescaping on (a party named
``<script>`` prints as text) and ``StrictUndefined`` (a misspelt variable is an error naming it,
never a silent blank). Every failure is a :class:`~mediation_flow.errors.DocumentError` that
says what to do.

**Blanks.** A document renders for any case with no values given: what nobody has recorded yet
prints as a line for the official to fill in by hand (``______``, ``____年__月__日``).

**The HTML subset** that ``html_to_docx`` turns into Word, and that templates are written in:

=====================  =============================================================
``h1`` ``h2`` ``h3``   headings, centred; ``h1`` is the title (bold, 22 pt); h4-h6 as h3
``p``                  a paragraph; classes ``right``, ``center``, ``left``,
                       ``justify``, ``indent`` (first line indented two characters),
                       ``signature`` (right-aligned, with space above)
``strong`` ``b``       bold; ``em`` ``i`` italic; ``u`` underline
``br``                 a line break inside a paragraph
``table`` ``tr``       a grid table; ``th`` cells bold and centred; ``colspan`` merges
``th`` ``td``          cells (``rowspan`` is ignored: the cells stay side by side)
``ul`` ``ol`` ``li``   lists, markers written as text (``1.``, ``•``; ``ol class="zh"``
                       numbers ``一、二、``); nested lists are indented
``hr``                 a horizontal rule
``div``                a container: its class (alignment, ``indent``) applies inside
=====================  =============================================================

Any other inline tag (``span``, ``a``, ``small``, a custom tag...) is transparent: its text is
kept. Other block tags (``section``, ``blockquote``, ``pre``...) behave like ``p``. Text is never
dropped, except the contents of ``head``, ``title``, ``style`` and ``script``, which are not
visible. The DOCX is A4 with the margins of GB/T 9704, body text 仿宋_GB2312 三号 (16 pt) on
28 pt lines, and is byte-for-byte the same for the same HTML (fixed zip timestamps), so its
SHA-256 identifies it.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html.parser import HTMLParser
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from mediation_flow.errors import DocumentError
from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.flow.national import MEDIATION_STATES, national_flow
from mediation_flow.models import (
    MONEY_CLAIMS,
    Case,
    Event,
    Party,
    PartyKind,
    PartyRole,
)

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

__all__ = [
    "FORMATS",
    "TEMPLATES",
    "Document",
    "DocumentTemplates",
    "TemplateInfo",
    "builtin_source",
    "document_context",
    "docx_text",
    "html_to_docx",
    "yuan",
    "zh_amount",
    "zh_date",
    "zh_number",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class TemplateInfo:
    """What a template makes: its ``name`` (the file name without ``.html.j2``), its zh-CN
    ``title`` (the document's name on paper), an English title and a one-line description."""

    name: str
    title: str
    title_en: str
    description: str


#: The built-in templates, in the order a case usually needs them.
TEMPLATES: tuple[TemplateInfo, ...] = (
    TemplateInfo(
        "mediation_agreement",
        "调解协议书",
        "mediation agreement",
        "The agreement a mediation organisation records when the parties settle "
        "(LDMAL 14); after sign_agreement.",
    ),
    TemplateInfo(
        "acceptance_notice",
        "受理通知书",
        "notice of acceptance",
        "The arbitration commission accepts the application (LDMAL 29); after accept_arbitration.",
    ),
    TemplateInfo(
        "non_acceptance_notice",
        "不予受理通知书",
        "notice of non-acceptance",
        "The arbitration commission refuses the application, with its reason and the "
        "applicant's right to sue (LDMAL 29); after reject_arbitration.",
    ),
    TemplateInfo(
        "arbitration_mediation_statement",
        "仲裁调解书",
        "arbitration mediation statement",
        "The statement of an agreement reached in arbitration mediation, effective when both "
        "parties sign for it (LDMAL 42); after issue_mediation_statement.",
    ),
    TemplateInfo(
        "service_receipt",
        "送达回证",
        "service receipt",
        "The receipt a recipient signs when a document is served; its date is the service date "
        "(AR 20). Any stage.",
    ),
)

#: Output formats of :meth:`DocumentTemplates.render`.
FORMATS = ("html", "docx")

_MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_BUILTIN_INFO = {t.name: t for t in TEMPLATES}
#: Template names: lower-case words joined by underscores; a leading underscore marks a helper
#: (``_page``, ``_macros``) that can be overridden but not rendered as a document.
_NAME = re.compile(r"^_?[a-z][a-z0-9_]{0,63}$")
_BUILTIN_PREFIX = "builtin:"
_PAGE = "_page"


@dataclass(frozen=True)
class Document:
    """A rendered document: ``content`` in ``format`` (``html`` or ``docx``), its SHA-256 (hex)
    and media type, for case ``case_id``."""

    template: str
    title: str
    format: str
    content: bytes = field(repr=False)
    sha256: str
    media_type: str
    case_id: int

    @property
    def filename(self) -> str:
        """A file name for saving or downloading: ``case-12-mediation_agreement.docx``."""
        return f"case-{self.case_id}-{self.template}.{self.format}"

    def metadata(self) -> dict[str, Any]:
        """What to record about the document (JSON-ready, without the content)."""
        return {
            "template": self.template,
            "title": self.title,
            "format": self.format,
            "sha256": self.sha256,
            "size": len(self.content),
            "media_type": self.media_type,
            "filename": self.filename,
        }


# --- filters ------------------------------------------------------------------------------------

_BLANK_DATE = "____年__月__日"
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_DIGITS = "零一二三四五六七八九"


def zh_date(value: date | datetime | str | None) -> str:
    """``2025-03-01`` -> ``2025年3月1日``; ``None`` or ``""`` -> ``____年__月__日`` for hand
    fill-in. Takes a date, a datetime (its date in China) or an ISO date string."""
    if value is None or value == "":
        return _BLANK_DATE
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    elif isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"zh_date: {value!r} is not an ISO date like '2025-03-01'") from None
    elif not isinstance(value, date):
        raise TypeError(f"zh_date: expected a date, got {type(value).__name__}")
    return f"{value.year}年{value.month}月{value.day}日"


def _amount(value: Any, filter_name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str | float):
        raise TypeError(f"{filter_name}: expected an amount, got {type(value).__name__}")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"{filter_name}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{filter_name}: {value!r} is not an amount")
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def yuan(value: Decimal | int | str | None) -> str:
    """An amount in figures: ``Decimal("12345")`` -> ``人民币12,345.00元`` (rounded half up to
    the fen); ``None`` -> ``人民币______元`` for hand fill-in."""
    if value is None or value == "":
        return "人民币______元"
    return f"人民币{_amount(value, 'yuan'):,.2f}元"


def zh_amount(value: Decimal | int | str) -> str:
    """An amount in capital numerals (大写金额), as on bills and agreements:
    ``12345`` -> ``壹万贰仟叁佰肆拾伍元整``, ``1001.05`` -> ``壹仟零壹元零伍分``, ``0`` ->
    ``零元整``.

    The rules are those for filling in bills (中国人民银行《正确填写票据和结算凭证的基本规定》):
    ``整`` after ``元`` or ``角``, never after ``分``; ``壹拾`` with its ``壹``; one ``零`` for
    each run of zeros followed by a non-zero digit. Where the rules allow the ``零`` to be left
    out (a zero in the wan or yuan place before a non-zero digit), it is written, as in their
    first examples: ``壹仟陆佰捌拾元零叁角贰分``, ``壹拾万零柒仟元零伍角叁分``. Below one yuan
    the amount starts at its jiao or fen (``伍分``). Rounded half up to the fen; amounts from 0
    up to (not including) 10^16 yuan.
    """
    amount = _amount(value, "zh_amount")
    if amount < 0:
        raise ValueError(f"zh_amount: {value!r} is negative")
    fen_total = int(amount * 100)
    yuan_part, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    if yuan_part >= 10**16:
        raise ValueError(f"zh_amount: {value!r} is too large (at most 16 digits of yuan)")
    if not jiao and not fen:
        return (_zh_integer(yuan_part) or "零") + "元整"
    text = ""
    if yuan_part:
        text = _zh_integer(yuan_part) + "元"
        if yuan_part % 10 == 0 or not jiao:
            text += "零"
    if jiao:
        text += _DIGITS[jiao] + "角"
    return text + (_DIGITS[fen] + "分" if fen else "整")


def _zh_integer(number: int) -> str:
    """Capital numerals of a whole number of yuan (``""`` for 0), in groups of four digits."""
    units = ("", "拾", "佰", "仟")
    groups = ("", "万", "亿", "万亿")
    parts: list[str] = []
    need_zero = False  # a zero was skipped since the last digit written
    digits = str(number)
    for i, char in enumerate(digits):
        place = len(digits) - 1 - i
        digit = int(char)
        if digit == 0:
            need_zero = need_zero or bool(parts)
        else:
            if need_zero:
                parts.append("零")
                need_zero = False
            parts.append(_DIGITS[digit] + units[place % 4])
        if place % 4 == 0 and place:
            group = digits[max(0, i - 3) : i + 1]
            if int(group):
                parts.append(groups[place // 4])
    return "".join(parts)


def zh_number(value: int) -> str:
    """A counting number in lower-case numerals for numbering items: ``1`` -> ``一``,
    ``12`` -> ``十二``, ``105`` -> ``一百零五`` (1 to 9999)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10_000:
        raise ValueError(f"zh_number: expected a whole number from 1 to 9999, got {value!r}")
    units = ("", "十", "百", "千")
    digits = str(value)
    out: list[str] = []
    zero = False
    for i, char in enumerate(digits):
        place = len(digits) - 1 - i
        digit = int(char)
        if digit == 0:
            zero = True
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_SMALL_DIGITS[digit] + units[place])
    text = "".join(out)
    return text[1:] if 10 <= value < 20 else text


def blank(value: Any, width: int = 6) -> Any:
    """The value, or a line of ``width`` underscores for hand fill-in when it is ``None`` or
    empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "_" * width
    if isinstance(value, list | tuple) and not value:
        return "_" * width
    return value


FILTERS = {
    "zh_date": zh_date,
    "yuan": yuan,
    "zh_amount": zh_amount,
    "zh_number": zh_number,
    "blank": blank,
}


# --- the context --------------------------------------------------------------------------------

_KIND_LABELS = {PartyKind.worker: "劳动者", PartyKind.employer: "用人单位"}
_ROLE_LABELS = {PartyRole.applicant: "申请人", PartyRole.respondent: "被申请人"}
_ID_LABELS = {PartyKind.worker: "公民身份号码", PartyKind.employer: "统一社会信用代码"}
#: States whose entry means a mediation organisation has received the case.
_MEDIATION_ENTRY = (*MEDIATION_STATES, "prefiling_mediation")
#: The numbering rule (mediation_flow.numbering) whose number a mediation state's documents
#: carry, where its key is not the state's own id.
_NUMBER_KEYS = {"prefiling_mediation": "court_prefiling"}
_LIST_SPLIT = re.compile(r"\s*[,，、;；]\s*")


def _party(party: Party) -> dict[str, Any]:
    return {
        "name": party.name,
        "kind": party.kind.value,
        "kind_label": _KIND_LABELS[party.kind],
        "role": party.role.value,
        "role_label": _ROLE_LABELS[party.role],
        "is_worker": party.kind is PartyKind.worker,
        "id_number": party.id_number or "",
        "id_label": _ID_LABELS[party.kind],
        "phone": party.phone or "",
    }


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _event_day(event: Event) -> date:
    return event.at.astimezone(SHANGHAI).date() if event.at.tzinfo else event.at.date()


def _names(value: Any) -> list[str]:
    """A list of names from a list or from text separated by ``,``, ``，``, ``、`` or ``;``."""
    if value is None:
        return []
    if isinstance(value, str):
        return [n for n in _LIST_SPLIT.split(value.strip()) if n]
    return [str(v) for v in value if str(v).strip()]


def _lines(value: Any) -> list[str]:
    """Agreement terms: a list, or text with one term a line."""
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def _mediation_steps(flow: FlowDefinition | None) -> frozenset[str]:
    """The states whose entry means a mediation organisation received the case: the national
    ones, and a regional flow's states of the same channels (a plugin's mediation steps)."""
    if flow is None:
        return frozenset(_MEDIATION_ENTRY)
    national = national_flow().state_map
    channels = {national[s].channel for s in _MEDIATION_ENTRY if s in national}
    own = {s.id for s in flow.states if s.id not in national and s.channel in channels}
    return frozenset({*_MEDIATION_ENTRY, *own})


def _history_facts(
    history: Sequence[Event], steps: frozenset[str] = frozenset(_MEDIATION_ENTRY)
) -> dict[str, Any]:
    """The dates and facts documents cite, from the events (the latest occurrence wins)."""
    facts: dict[str, Any] = {
        "mediation_state": "",
        "mediation_seq": 0,
        "mediation_org": "",
        "mediation_received_on": None,
        "mediation_accepted_on": None,
        "arbitration_received_on": None,
        "arbitration_accepted_on": None,
        "respondent_served_on": None,
        "rejected_on": None,
        "reject_note": "",
        "agreement_signed_on": None,
        "agreement_effective_on": None,
        "agreement_perform_by": None,
        "confirms_labour_relationship": False,
        "statement_issued_on": None,
        "statement_perform_by": None,
        "statement_via_review": False,
    }
    for event in history:
        data, day = event.data, _event_day(event)
        entered = event.dest != event.source
        if entered and event.dest in steps:
            facts["mediation_state"] = event.dest
            facts["mediation_seq"] = event.seq
            facts["mediation_org"] = str(data.get("org_id") or "")
            facts["mediation_received_on"] = _as_date(data.get("received_on")) or day
            facts["mediation_accepted_on"] = _as_date(data.get("accepted_on"))
        elif event.trigger == "accept_mediation":
            facts["mediation_accepted_on"] = _as_date(data.get("accepted_on")) or day
        if entered and event.dest == "arbitration_received":
            # A new application (or an upheld objection) starts the arbitration file afresh.
            facts["arbitration_received_on"] = _as_date(data.get("received_on")) or day
            facts["arbitration_accepted_on"] = facts["rejected_on"] = None
            facts["reject_note"] = ""
        if event.trigger == "accept_arbitration":
            facts["arbitration_accepted_on"] = day
            facts["respondent_served_on"] = _as_date(data.get("respondent_served_on"))
        elif event.trigger == "reject_arbitration":
            facts["rejected_on"] = day
            facts["reject_note"] = str(data.get("note") or "")
        elif event.trigger == "sign_agreement":
            facts["agreement_signed_on"] = day
            # PML 29; LDMAL 14 ¶2: without a date agreed otherwise, it takes effect on signing.
            facts["agreement_effective_on"] = _as_date(data.get("effective_on")) or day
            facts["agreement_perform_by"] = _as_date(data.get("perform_by"))
            facts["confirms_labour_relationship"] = bool(data.get("confirms_labour_relationship"))
        elif event.trigger == "issue_mediation_statement":
            facts["statement_issued_on"] = day
            facts["statement_perform_by"] = _as_date(data.get("perform_by"))
            facts["statement_via_review"] = event.source == "arbitration_review"
    return facts


def _current_org(case: Case, history: Sequence[Event], flow: FlowDefinition | None = None) -> str:
    """``case.attributes["org_id"]`` while the organisation that recorded it still handles the
    case: once the case has entered another channel's state (a failed mediation going to
    arbitration), the mediation organisation must not appear as the issuer. Channels are the
    national flow's; a state it lacks (a regional one) counts as no channel."""
    org = str(case.attributes.get("org_id") or "")
    recorded = [i for i, e in enumerate(history) if e.data.get("org_id")]
    if not org or not recorded:
        return org
    channels = {s.id: s.channel for s in (flow or national_flow()).states}
    channel = channels.get(history[recorded[-1]].dest)
    for event in history[recorded[-1] + 1 :]:
        later = channels.get(event.dest)
        if later is not None and later != channel:
            return ""
    return org


def document_context(
    case: Case,
    history: Sequence[Event],
    *,
    today: date,
    values: Mapping[str, Any] | None = None,
    flow: FlowDefinition | None = None,
) -> dict[str, Any]:
    """Everything the templates use, from a case, its history and the officials' ``values``.

    ``flow`` is the case's flow (the engine passes it): a regional plugin's mediation steps
    count as mediation (organisation, received date and case number of the step the case went
    through), and its states' channels decide which organisation handles the case.

    ``values`` are what an official adds for one document (``terms`` of an agreement, a
    ``reason``, the ``arbitrators``, the ``document`` and ``recipient`` of a service receipt...);
    templates read them as ``values.<key>``, and a few are merged into the top-level names
    (``organisation``, ``reject_reason``, ``terms``, ``arbitrators``). The how-to
    (docs/howto/documents.md) lists every name.
    """
    values = dict(values or {})
    facts = _history_facts(history, _mediation_steps(flow))
    numbers_issued = sorted(case.numbers, key=lambda n: (n.issued_on, n.event_seq))
    numbers = {n.key: n.number for n in numbers_issued}
    parties = [_party(p) for p in case.parties]
    claims = [
        {
            "kind": c.kind.value,
            "label": c.kind.label_zh,
            "amount": c.amount,
            "has_amount": c.amount > 0,
            "money": c.kind in MONEY_CLAIMS,
        }
        for c in case.claims
    ]
    labels = list(dict.fromkeys(c.kind.label_zh for c in case.claims))
    organisation = values.get("organisation") or _current_org(case, history, flow)
    mediation = facts["mediation_state"]
    # A statement on a reviewed agreement carries the review's number (仲审字), else the
    # arbitration file's (仲案字).
    review = facts["statement_via_review"] or case.state == "arbitration_review"
    return {
        "case": case,
        "case_id": case.id,
        "serial": case.serial,
        "region": case.region,
        "state": case.state,
        "state_label": case.state_label,
        "numbers": numbers,
        "number": numbers_issued[-1].number if numbers_issued else "",
        "mediation_number": next(
            (n.number for n in numbers_issued if n.event_seq == facts["mediation_seq"]),
            numbers.get(_NUMBER_KEYS.get(mediation, mediation), ""),
        ),
        "arbitration_number": numbers.get("arbitration_review" if review else "arbitration", ""),
        "parties": parties,
        "workers": [p for p in parties if p["kind"] == PartyKind.worker.value],
        "employers": [p for p in parties if p["kind"] == PartyKind.employer.value],
        "applicants": [p for p in parties if p["role"] == PartyRole.applicant.value],
        "respondents": [p for p in parties if p["role"] == PartyRole.respondent.value],
        "claims": claims,
        "money_claims": [c for c in claims if c["money"]],
        "total_claimed": sum((c.amount for c in case.claims), Decimal(0)),
        "dispute": "、".join(labels) + "争议",
        "received_on": case.received_on,
        **{k: v for k, v in facts.items() if k not in ("reject_note", "mediation_seq")},
        # The template ends the sentence; an official's own full stop would double it.
        "reject_reason": str(values.get("reason") or facts["reject_note"]).rstrip("。；;，,. "),
        "organisation": str(organisation or ""),
        "terms": _lines(values.get("terms")),
        "arbitrators": _names(values.get("arbitrators")),
        "today": today,
        "values": values,
    }


# --- templates ----------------------------------------------------------------------------------


class _Loader(jinja2.BaseLoader):
    """Overrides first, then the package's ``templates`` folder; ``builtin:<name>`` always
    loads the shipped file (an override extends the template it replaces through it)."""

    def __init__(self, overrides: Mapping[str, str]) -> None:
        self.overrides = dict(overrides)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Any]:
        if template in self.overrides:
            return self.overrides[template], None, lambda: True
        name = template.removeprefix(_BUILTIN_PREFIX)
        source = builtin_source(name)
        if source is None:
            raise jinja2.TemplateNotFound(template)
        return source, None, lambda: True


def builtin_source(name: str) -> str | None:
    """The Jinja2 source of a shipped template (``None`` if there is none): a starting point
    for writing an override."""
    if not _NAME.match(name):
        return None
    resource = files("mediation_flow").joinpath("templates", f"{name}.html.j2")
    try:
        return resource.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
_H1_TAG = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S | re.I)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TAG = re.compile(r"<[^>]*>")


def _title_from_source(source: str) -> str:
    for pattern in (_TITLE_TAG, _H1_TAG):
        match = pattern.search(source)
        if match:
            text = _TAG.sub(" ", _JINJA.sub("", match.group(1)))
            text = " ".join(text.split())
            if text:
                return text
    return ""


class DocumentTemplates:
    """The document templates of one region: the built-in ones, with ``overrides``
    (``{name: Jinja2 source}``) replacing or adding templates.

    Names are lower-case words joined by underscores. ``_page`` (the HTML page around every
    document) and ``_macros`` (shared pieces) can be overridden too. Override sources are
    compiled here, so a syntax error surfaces when the templates are loaded, not when an
    official first prints.
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        overrides = dict(overrides or {})
        for name, source in overrides.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise DocumentError(
                    str(name),
                    "a template name is lower-case letters, digits and underscores, like "
                    "'mediation_agreement'; rename the override",
                )
            if not isinstance(source, str):
                raise DocumentError(
                    name, f"the override must be Jinja2 source text, got {type(source).__name__}"
                )
        self._overrides = overrides
        self._env = ImmutableSandboxedEnvironment(
            loader=_Loader(overrides),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(FILTERS)
        for name, source in overrides.items():
            try:
                self._env.parse(source, name=name)
            except jinja2.TemplateSyntaxError as exc:
                raise _syntax_error(name, exc) from None

    def names(self) -> list[str]:
        """The templates that can be rendered: the built-in ones in :data:`TEMPLATES` order,
        then the added ones by name."""
        added = sorted(n for n in self._overrides if n not in _BUILTIN_INFO and n[0] != "_")
        return [t.name for t in TEMPLATES] + added

    def info(self, name: str) -> TemplateInfo:
        """The template's title and description. An added template's title is the text of its
        ``<title>`` or first ``<h1>`` (without its Jinja2 expressions), or else its name."""
        self._check(name)
        if name in _BUILTIN_INFO:
            return _BUILTIN_INFO[name]
        title = _title_from_source(self._overrides[name]) or name
        return TemplateInfo(name, title, title, "added by a plugin")

    def _check(self, name: str) -> None:
        if name not in self.names():
            raise DocumentError(
                name,
                f"unknown template; the known templates are {', '.join(self.names())} "
                "(a plugin adds one through the document_templates hook)",
            )

    def render_html(self, name: str, context: Mapping[str, Any]) -> str:
        """The document as a complete HTML5 page. A template that writes its own ``<html>``
        page is returned as it renders; any other is put in the ``_page`` layout."""
        self._check(name)
        title = self.info(name).title
        try:
            body = self._env.get_template(name).render(context)
            if re.search(r"<html[\s>]", body[:2000], re.I):
                return body
            page = self._env.get_template(_PAGE)
            return page.render(title=title, template=name, body=Markup(body))
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc.name or name, exc, rendering=name) from None
        except jinja2.UndefinedError as exc:
            known = ", ".join(sorted(context))
            raise DocumentError(
                name,
                f"undefined variable: {exc.message}. The context has: {known}. Check the "
                "spelling, pass the value in values={...} (read it as values.<key>), or give "
                "a fallback with | default(...)",
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise DocumentError(
                name,
                f"it includes or extends {exc.name!r}, which does not exist; the known "
                f"templates are {', '.join(self.names())}, and builtin:<name> is the shipped "
                "one",
            ) from None
        except jinja2.TemplateError as exc:
            raise DocumentError(name, f"the template failed: {exc}; fix the template") from None
        except (ValueError, TypeError, ArithmeticError, LookupError, AttributeError) as exc:
            raise DocumentError(
                name,
                f"rendering failed: {type(exc).__name__}: {exc}; check the values given and "
                "the filters the template uses",
            ) from None

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        format: str = "html",
        case_id: int,
    ) -> Document:
        """Render template ``name`` with ``context`` (from :func:`document_context`) to an
        HTML page or a DOCX file."""
        if format not in FORMATS:
            raise DocumentError(
                name, f"unsupported format {format!r}; use one of {', '.join(FORMATS)}"
            )
        html = self.render_html(name, context)
        title = self.info(name).title
        content = html.encode("utf-8") if format == "html" else html_to_docx(html, title=title)
        return Document(
            template=name,
            title=title,
            format=format,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            media_type=_MEDIA_TYPES[format],
            case_id=case_id,
        )


def _syntax_error(
    name: str, exc: jinja2.TemplateSyntaxError, rendering: str | None = None
) -> DocumentError:
    where = f"template {name!r} line {exc.lineno}"
    return DocumentError(
        rendering or name, f"syntax error in {where}: {exc.message}; fix the template source"
    )


# --- HTML to DOCX -------------------------------------------------------------------------------

_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_HIDDEN = frozenset({"head", "title", "style", "script", "template"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 3, "h5": 3, "h6": 3}
_CONTAINERS = frozenset({"html", "body", "div", "#root"})
#: Block tags outside the subset: rendered like ``p`` (a container if they hold blocks).
_BLOCK_LIKE_P = frozenset(
    "address article aside blockquote caption center dd details dialog dl dt fieldset "
    "figcaption figure footer form header hgroup main nav pre section summary".split()
)
_BLOCKS = frozenset(
    {"p", "table", "ul", "ol", "li", "hr", "tr", "td", "th", "thead", "tbody", "tfoot"}
    | set(_HEADINGS)
    | _CONTAINERS
    | _BLOCK_LIKE_P
)
_ALIGN_CLASSES = ("right", "center", "left", "justify", "signature")
_WS = re.compile(r"[ \t\n\r\f]+")
# XML 1.0 forbids these characters; they are never visible text.
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_BODY_FONT = "仿宋_GB2312"
_BODY_SIZE = 16  # 三号
_LINE = 28  # points: 22 lines a page on A4 with the GB/T 9704 margins
_HEADING_FONTS = {1: ("宋体", 22), 2: ("黑体", _BODY_SIZE), 3: ("楷体_GB2312", _BODY_SIZE)}


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[_Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _TreeBuilder(HTMLParser):
    """A forgiving HTML tree: void tags have no children, unclosed ``p``, ``li``, ``tr``,
    ``td`` close as browsers close them, stray end tags are ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self.stack = [self.root]

    def _close(self, tag: str, stop: frozenset[str]) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            current = self.stack[i].tag
            if current == tag:
                del self.stack[i:]
                return
            if current in stop:
                return

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS and tag not in ("td", "th", "tr", "li"):
            # A block start closes an open paragraph (unless a container holds the paragraph).
            self._close("p", frozenset(_BLOCKS - {"p"}))
        if tag == "li":
            self._close("li", frozenset({"ul", "ol", "table"}))
        elif tag in ("td", "th"):
            self._close("td", frozenset({"tr", "table"}))
            self._close("th", frozenset({"tr", "table"}))
        elif tag == "tr":
            self._close("tr", frozenset({"table"}))
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self._close(tag, frozenset())

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass(frozen=True)
class _Style:
    bold: bool = False
    italic: bool = False
    underline: bool = False


_BREAK = object()


@dataclass(frozen=True)
class _Run:
    text: str
    style: _Style


@dataclass
class _Marker:
    """A list item's marker, written at the start of the item's first paragraph."""

    text: str | None


@dataclass(frozen=True)
class _Ctx:
    align: str | None = None
    indent: bool = False
    signature: bool = False
    heading: int | None = None
    style: _Style = _Style()
    list_level: int = 0
    marker: _Marker | None = None

    def with_classes(self, node: _Node) -> _Ctx:
        classes = node.classes
        align = next((c for c in _ALIGN_CLASSES if c in classes), None)
        attr_align = node.attrs.get("align", "").lower()
        if align is None and attr_align in _ALIGN_CLASSES:
            align = attr_align
        return replace(
            self,
            align=align or self.align,
            indent=self.indent or "indent" in classes,
            signature=self.signature or "signature" in classes,
        )


def _inline_style(tag: str, style: _Style) -> _Style:
    if tag in ("strong", "b", "th"):
        return _Style(True, style.italic, style.underline)
    if tag in ("em", "i"):
        return _Style(style.bold, True, style.underline)
    if tag in ("u", "ins"):
        return _Style(style.bold, style.italic, True)
    return style


class _Container:
    """Where paragraphs and tables go: the document body or a table cell (whose first, empty
    paragraph is used before new ones are added)."""

    def __init__(self, target: DocxDocument | _Cell, fresh_cell: bool = False) -> None:
        self.target = target
        self._first: Paragraph | None = target.paragraphs[0] if fresh_cell else None

    def paragraph(self) -> Paragraph:
        if self._first is not None:
            paragraph, self._first = self._first, None
            return paragraph
        return self.target.add_paragraph()

    def table(self, rows: int, cols: int) -> Table:
        self._first = None
        return self.target.add_table(rows, cols)


class _DocxWriter:
    def __init__(self, document: DocxDocument) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        self.document = document
        self.alignments = {
            "left": WD_ALIGN_PARAGRAPH.LEFT,
            "right": WD_ALIGN_PARAGRAPH.RIGHT,
            "signature": WD_ALIGN_PARAGRAPH.RIGHT,
            "center": WD_ALIGN_PARAGRAPH.CENTER,
            "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
        }

    # Items of a flow: _Run, _BREAK, or (block node, ctx).
    def _items(self, children: Iterable[_Node | str], ctx: _Ctx) -> Iterator[Any]:
        for child in children:
            if isinstance(child, str):
                yield _Run(child, ctx.style)
            elif child.tag in _HIDDEN:
                continue
            elif child.tag == "br":
                yield _BREAK
            elif child.tag in _BLOCKS:
                yield child, ctx
            else:
                inner = replace(ctx, style=_inline_style(child.tag, ctx.style))
                yield from self._items(child.children, inner)

    def flow(
        self, children: Iterable[_Node | str], container: _Container, ctx: _Ctx, *, empty_p: bool
    ) -> None:
        """Render nodes: inline content between blocks makes paragraphs. With ``empty_p`` a
        paragraph is made even when there is no content (an explicit ``<p></p>``)."""
        pending: list[Any] = []
        made = False

        def flush(force: bool) -> None:
            nonlocal made
            if force or any(
                i is _BREAK or (isinstance(i, _Run) and i.text.strip(" \t\n\r\f")) for i in pending
            ):
                self.paragraph(container, pending, ctx)
                made = True
            pending.clear()

        for item in self._items(children, ctx):
            if isinstance(item, tuple):
                flush(False)
                node, node_ctx = item
                self.block(node, container, node_ctx)
                made = True
            else:
                pending.append(item)
        flush(empty_p and not made)

    def block(self, node: _Node, container: _Container, ctx: _Ctx) -> None:
        tag = node.tag
        ctx = ctx.with_classes(node)
        if tag in _HEADINGS:
            heading = replace(ctx, indent=False, signature=False, heading=_HEADINGS[tag])
            self.flow(node.children, container, heading, empty_p=False)
        elif tag == "table":
            self.table(node, container, ctx)
        elif tag in ("ul", "ol"):
            self.list(node, container, ctx)
        elif tag == "hr":
            self.rule(container)
        elif tag == "li":
            self.list_item(node, container, ctx, "• ")
        elif tag in ("tr", "thead", "tbody", "tfoot", "td", "th"):
            # Table parts outside a table: keep their text as paragraphs.
            self.flow(node.children, container, ctx, empty_p=False)
        else:
            self.flow(node.children, container, ctx, empty_p=tag == "p")

    def paragraph(self, container: _Container, items: list[Any], ctx: _Ctx) -> None:
        from docx.shared import Pt

        paragraph = container.paragraph()
        if ctx.heading is not None:
            paragraph.style = self.document.styles[f"Heading {ctx.heading}"]
        fmt = paragraph.paragraph_format
        if ctx.align is not None:
            fmt.alignment = self.alignments[ctx.align]
        if ctx.indent and ctx.heading is None:
            fmt.first_line_indent = Pt(2 * _BODY_SIZE)
        if ctx.signature:
            fmt.space_before = Pt(_BODY_SIZE)
        if ctx.list_level:
            fmt.left_indent = Pt(2 * _BODY_SIZE * ctx.list_level)
        if ctx.marker is not None and ctx.marker.text is not None:
            fmt.first_line_indent = Pt(-2 * _BODY_SIZE)
            paragraph.add_run(ctx.marker.text)
            ctx.marker.text = None
        pieces: list[Any] = []
        at_line_start = True
        for item in items:
            if item is _BREAK:
                _rstrip_last(pieces)
                pieces.append(_BREAK)
                at_line_start = True
                continue
            text = _XML_INVALID.sub("", _WS.sub(" ", item.text))
            previous = pieces[-1] if pieces else None
            if at_line_start or (isinstance(previous, _Run) and previous.text.endswith(" ")):
                text = text.lstrip(" ")
            if text:
                pieces.append(_Run(text, item.style))
                at_line_start = False
        _rstrip_last(pieces)
        for piece in pieces:
            if piece is _BREAK:
                paragraph.add_run().add_break()
                continue
            run = paragraph.add_run(piece.text)
            if piece.style.bold:
                run.bold = True
            if piece.style.italic:
                run.italic = True
            if piece.style.underline:
                run.underline = True

    def list(self, node: _Node, container: _Container, ctx: _Ctx) -> None:
        ordered = node.tag == "ol"
        try:
            number = int(node.attrs.get("start", "1"))
        except ValueError:
            number = 1
        chinese = "zh" in node.classes
        nested = replace(ctx, heading=None, list_level=ctx.list_level + 1, marker=None)
        for child in node.children:
            if isinstance(child, _Node) and child.tag == "li":
                if not ordered:
                    marker = "• "
                elif chinese and 0 < number < 10_000:
                    marker = zh_number(number) + "、"
                else:
                    marker = f"{number}. "
                self.list_item(child, container, nested, marker)
                number += 1
            else:
                # Text or tags straight inside the list: kept as paragraphs of the list.
                self.flow([child], container, nested, empty_p=False)

    def list_item(self, node: _Node, container: _Container, ctx: _Ctx, marker: str) -> None:
        level = max(ctx.list_level, 1)
        item = replace(ctx, heading=None, list_level=level, marker=_Marker(marker))
        self.flow(node.children, container, item.with_classes(node), empty_p=True)

    def table(self, node: _Node, container: _Container, ctx: _Ctx) -> None:
        rows: list[list[tuple[_Node, int]]] = []
        loose: list[_Node | str] = []
        captions: list[_Node] = []

        def collect(parent: _Node) -> None:
            for child in parent.children:
                if isinstance(child, _Node) and child.tag in ("thead", "tbody", "tfoot"):
                    collect(child)
                elif isinstance(child, _Node) and child.tag == "tr":
                    row: list[tuple[_Node, int]] = []
                    for cell in child.children:
                        if isinstance(cell, _Node) and cell.tag in ("td", "th"):
                            try:
                                span = max(1, int(cell.attrs.get("colspan", "1")))
                            except ValueError:
                                span = 1
                            row.append((cell, span))
                        elif isinstance(cell, str) and not cell.strip():
                            continue
                        else:
                            loose.append(cell)
                    rows.append(row)
                elif isinstance(child, _Node) and child.tag == "caption":
                    captions.append(child)
                elif (isinstance(child, _Node) and child.tag in ("colgroup", "col")) or (
                    isinstance(child, str) and not child.strip()
                ):
                    continue
                else:
                    loose.append(child)

        collect(node)
        centred = _Ctx(align="center", style=ctx.style)
        for caption in captions:
            self.flow(caption.children, container, centred, empty_p=False)
        columns = max((sum(span for _, span in row) for row in rows), default=0)
        if rows and columns:
            table = container.table(len(rows), columns)
            table.style = self.document.styles["Table Grid"]
            for r, row in enumerate(rows):
                column = 0
                for cell_node, span in row:
                    span = min(span, columns - column)
                    cell = table.cell(r, column)
                    if span > 1:
                        cell = cell.merge(table.cell(r, column + span - 1))
                        for extra in cell.paragraphs[1:]:
                            extra._element.getparent().remove(extra._element)
                    cell_ctx = _Ctx(style=ctx.style)
                    if cell_node.tag == "th":
                        cell_ctx = _Ctx(align="center", style=_inline_style("th", ctx.style))
                    self.flow(
                        cell_node.children,
                        _Container(cell, fresh_cell=True),
                        cell_ctx.with_classes(cell_node),
                        empty_p=False,
                    )
                    column += span
        if loose:
            self.flow(loose, container, ctx, empty_p=False)

    def rule(self, container: _Container) -> None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        paragraph = container.paragraph()
        borders = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for key, value in (
            ("w:val", "single"),
            ("w:sz", "6"),
            ("w:space", "1"),
            ("w:color", "auto"),
        ):
            bottom.set(qn(key), value)
        borders.append(bottom)
        successors = ("w:shd", "w:tabs", "w:spacing", "w:ind", "w:jc", "w:rPr", "w:sectPr")
        paragraph._p.get_or_add_pPr().insert_element_before(borders, *successors)


def _rstrip_last(pieces: list[Any]) -> None:
    if pieces and isinstance(pieces[-1], _Run):
        text = pieces[-1].text.rstrip(" ")
        if text:
            pieces[-1] = _Run(text, pieces[-1].style)
        else:
            pieces.pop()


def _set_fonts(element: Any, name: str) -> None:
    """Set a run's or a style's fonts, the East-Asian one included (``w:eastAsia``), and drop
    theme fonts that would override them."""
    from docx.oxml.ns import qn

    fonts = element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)


def _setup(document: DocxDocument, title: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    section = document.sections[0]
    # A4 with the margins of GB/T 9704-2012 (party-and-government official documents).
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    normal = document.styles["Normal"]
    normal.font.size = Pt(_BODY_SIZE)
    _set_fonts(normal.element, _BODY_FONT)
    rpr = normal.element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "zh-CN")
    lang.set(qn("w:eastAsia"), "zh-CN")
    body = normal.paragraph_format
    body.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    body.line_spacing = Pt(_LINE)
    body.space_before = body.space_after = Pt(0)
    body.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    for level, (font, size) in _HEADING_FONTS.items():
        style = document.styles[f"Heading {level}"]
        _set_fonts(style.element, font)
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.italic = False
        style.font.color.rgb = RGBColor(0, 0, 0)
        fmt = style.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(size + 14 if level == 1 else _LINE)
        fmt.space_before = Pt(0 if level == 1 else 8)
        fmt.space_after = Pt(_LINE if level == 1 else 8)

    properties = document.core_properties
    properties.title = title
    properties.author = properties.comments = ""
    properties.language = "zh-CN"
    # No creation time: the same HTML gives the same file (and SHA-256).
    for child in list(properties._element):
        if child.tag in (qn("dcterms:created"), qn("dcterms:modified")):
            properties._element.remove(child)


def _fixed_zip(data: bytes) -> bytes:
    """The same archive with fixed member timestamps, so equal documents are equal bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            target.writestr(member, source.read(info.filename))
    return out.getvalue()


def html_to_docx(html: str, *, title: str) -> bytes:
    """A Word file (DOCX) of an HTML page or fragment written in the subset of the module
    docstring; ``title`` goes in the document properties."""
    import docx

    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    document = docx.Document()
    _setup(document, title)
    writer = _DocxWriter(document)
    writer.flow(builder.root.children, _Container(document), _Ctx(), empty_p=False)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def docx_text(content: bytes) -> str:
    """The text of a DOCX file: every paragraph, in the body and in table cells (a merged cell
    once), one a line, in document order. For tests, and for checking what was issued."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(content))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError("docx", f"the content is not a DOCX file ({exc})") from None
    lines: list[str] = []

    def walk(blocks: Iterable[Paragraph | Table]) -> None:
        for block in blocks:
            if isinstance(block, Paragraph):
                lines.append(block.text)
                continue
            for row in block.rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    walk(cell.iter_inner_content())

    walk(document.iter_inner_content())
    return "\n".join(lines)
