"""Case numbers (案号) and serials.

Every organisation type numbers its own cases per year: an arbitration commission's
``湘430102劳人仲案字〔2025〕第12号``, a basic court's ``（2025）湘0102民初12号``. A
:class:`NumberingRule` says which transitions open the organisation's file (the referral to a
mediation organisation, the acceptance of an arbitration, a court's docketing) and how the number
reads. The engine issues the number inside the transaction of that transition: the counter of
the number's ``(prefix, year)`` is incremented in the same transaction as the case's new state and
event, so numbers are unique and gap-free per prefix and year however many workers run (a command
that fails or is rolled back gives its number back); the number is recorded in the event (so the
hash chain protects it) and in the case's ``attributes["case_numbers"]``, and never changes. A
case keeps every number it was given: one per rule and prefix, so a second referral to the same
organisation keeps its first number, and one to another organisation with a prefix of its own
gets that organisation's number.

Where the rules come from, later overriding earlier by ``key``: :data:`NATIONAL_RULES`, then the
regional plugins' ``numbering_rules`` hook, then ``Engine(numbering=...)`` (the deployment's own
commissions and courts). A rule's ``prefix`` may use ``{province}`` (the province's one-character
abbreviation, 湘 for 43), ``{region}`` (the 6-digit division code), ``{county}`` (its last four
digits, as basic courts' codes use), ``{city}`` (digits 3-4, as intermediate courts' codes use)
and ``{org}`` (the ``org_id`` the transition records, e.g. the mediation organisation a referral
names); ``prefixes`` maps such an organisation id to its own prefix
(``{"芙蓉区人民调解委员会": "芙人调字"}``). Rules that use ``{org}`` or ``prefixes`` must number at
transitions that record an ``org_id``.

A **serial** is issued at intake (``430102-250301-7KQ4M9XP``: division, opening day, eight random
characters of Crockford's base 32). It is the case's identity across systems (handoff packages) and
the reference a party uses to look up progress: it cannot be guessed from another case's.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mediation_flow.errors import FlowDefinitionError

__all__ = [
    "NATIONAL_RULES",
    "PROVINCE_ABBREVIATIONS",
    "Numbering",
    "NumberingRule",
    "new_serial",
    "normalise_reference",
    "number_variants",
]

#: One-character abbreviations of the provincial divisions (first two digits of GB/T 2260).
PROVINCE_ABBREVIATIONS: Mapping[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "黔", "53": "滇", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新", "71": "台", "81": "港", "82": "澳",
}  # fmt: skip

_FIELDS = {"province", "region", "county", "city", "org"}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Mediation organisations and arbitration commissions: 〔year〕第N号.
MEDIATION_PATTERN = "{prefix}〔{year}〕第{seq}号"
#: Courts (最高人民法院《关于人民法院案件案号的若干规定》): （year）court code + type + N号.
COURT_PATTERN = "（{year}）{prefix}{seq}号"


@dataclass(frozen=True)
class NumberingRule:
    """How one kind of organisation numbers its cases.

    ``key`` names the rule (one number per rule and case); ``label`` says in zh-CN what the
    number is (``仲裁案号``); ``triggers`` are the transitions that open the organisation's file;
    ``prefix`` (with ``{province}``, ``{region}``, ``{county}``, ``{org}``) and ``prefixes`` (per
    organisation id) give the prefix the counter runs under; ``pattern`` lays out the number
    from ``{prefix}``, ``{year}`` and ``{seq}``.
    """

    key: str
    label: str
    triggers: tuple[str, ...]
    prefix: str
    pattern: str = MEDIATION_PATTERN
    prefixes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise FlowDefinitionError(
                f"numbering rule {self.key!r}: a key is lower-case letters, digits and _"
            )
        if isinstance(self.triggers, str) or not self.triggers:
            raise FlowDefinitionError(
                f"numbering rule {self.key!r}: triggers must be a non-empty tuple of trigger "
                f"names, got {self.triggers!r}"
            )
        names = _names(self.pattern)
        if not {"prefix", "year", "seq"} <= names or names - {"prefix", "year", "seq"}:
            raise FlowDefinitionError(
                f"numbering rule {self.key!r}: the pattern {self.pattern!r} must use exactly "
                "{prefix}, {year} and {seq}"
            )
        for prefix in (self.prefix, *self.prefixes.values()):
            unknown = _names(prefix) - _FIELDS
            if unknown:
                raise FlowDefinitionError(
                    f"numbering rule {self.key!r}: the prefix {prefix!r} uses "
                    f"{', '.join(sorted(unknown))}; a prefix may use "
                    "{province}, {region}, {county}, {city} and {org}"
                )

    def prefix_for(self, region: str, org_id: str | None) -> str:
        """The prefix a case of ``region`` handled by ``org_id`` is numbered under."""
        template = self.prefixes.get(org_id or "", self.prefix)
        prefix = template.format(
            province=PROVINCE_ABBREVIATIONS.get(region[:2], ""),
            region=region,
            county=region[2:],
            city=region[2:4],
            org=org_id or "",
        )
        if not prefix or len(prefix) > 100:
            raise FlowDefinitionError(
                f"numbering rule {self.key!r}: the prefix for region {region} is "
                f"{prefix!r}; it must be 1 to 100 characters"
            )
        return prefix

    def format(self, prefix: str, year: int, seq: int) -> str:
        """The number as it is written on the documents."""
        return self.pattern.format(prefix=prefix, year=year, seq=seq)

    @property
    def uses_org(self) -> bool:
        """The prefix depends on the organisation the transition records."""
        return bool(self.prefixes) or "org" in _names(self.prefix)


def _names(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise FlowDefinitionError(f"bad numbering template {template!r}: {exc}") from None


#: The default rules: each channel's organisation, the arbitration commission and the courts'
#: dockets (basic court: first instance 民初, judicial confirmation 民特, payment orders 民督,
#: pre-filing mediation 民诉前调, enforcement 执; intermediate court: appeal 民终, revocation of
#: a final award 民特). A deployment replaces the prefixes with its commissions' and courts' own
#: (``Engine(numbering=...)``).
NATIONAL_RULES: tuple[NumberingRule, ...] = (
    NumberingRule(
        "union_mediation", "工会调解案号", ("refer_to_union_mediation",), "{province}{region}工调字"
    ),
    NumberingRule(
        "peoples_mediation",
        "人民调解案号",
        ("refer_to_peoples_mediation",),
        "{province}{region}人调字",
    ),
    NumberingRule(
        "administrative_mediation",
        "行政调解案号",
        ("refer_to_administrative_mediation",),
        "{province}{region}行调字",
    ),
    NumberingRule(
        "arbitration_review",
        "仲裁审查案号",
        ("apply_arbitration_review",),
        "{province}{region}劳人仲审字",
    ),
    NumberingRule(
        "arbitration", "仲裁案号", ("accept_arbitration",), "{province}{region}劳人仲案字"
    ),
    NumberingRule(
        "court_prefiling",
        "诉前调解案号",
        ("refer_to_prefiling_mediation",),
        "{province}{county}民诉前调",
        COURT_PATTERN,
    ),
    NumberingRule(
        "court_special",
        "司法确认案号",
        ("apply_judicial_confirmation",),
        "{province}{county}民特",
        COURT_PATTERN,
    ),
    NumberingRule(
        "court_revocation",
        "撤销仲裁裁决案号",
        ("apply_revocation",),
        "{province}{city}民特",
        COURT_PATTERN,
    ),
    NumberingRule(
        "court_payment_order",
        "督促程序案号",
        ("apply_payment_order",),
        "{province}{county}民督",
        COURT_PATTERN,
    ),
    NumberingRule(
        "court_first_instance",
        "一审案号",
        ("file_lawsuit",),
        "{province}{county}民初",
        COURT_PATTERN,
    ),
    NumberingRule(
        "court_appeal", "二审案号", ("file_appeal",), "{province}{city}民终", COURT_PATTERN
    ),
    NumberingRule(
        "court_enforcement",
        "执行案号",
        ("apply_enforcement",),
        "{province}{county}执",
        COURT_PATTERN,
    ),
)


class Numbering:
    """A set of numbering rules, one per key; each trigger belongs to at most one rule."""

    def __init__(self, rules: Iterable[NumberingRule] = NATIONAL_RULES) -> None:
        merged: dict[str, NumberingRule] = {}
        for rule in rules:
            if not isinstance(rule, NumberingRule):
                raise FlowDefinitionError(f"not a NumberingRule: {rule!r}")
            merged.pop(rule.key, None)
            merged[rule.key] = rule
        self.rules: tuple[NumberingRule, ...] = tuple(merged.values())
        self._by_trigger: dict[str, NumberingRule] = {}
        for rule in self.rules:
            for trigger in rule.triggers:
                other = self._by_trigger.get(trigger)
                if other is not None:
                    raise FlowDefinitionError(
                        f"numbering rules {other.key!r} and {rule.key!r} both number at "
                        f"{trigger!r}; a transition opens one organisation's file"
                    )
                self._by_trigger[trigger] = rule

    def with_rules(self, rules: Iterable[NumberingRule]) -> Numbering:
        """These rules, then ``rules`` (replacing those of the same key)."""
        extra = list(rules)
        if not extra:
            return self
        keys = {r.key for r in extra}
        return Numbering([*(r for r in self.rules if r.key not in keys), *extra])

    def rule_for(self, trigger: str) -> NumberingRule | None:
        return self._by_trigger.get(trigger)

    def check_triggers(self, known: Mapping[str, bool]) -> None:
        """Refuse rules that name triggers no flow of the engine has (a typo, usually), and
        rules by organisation on triggers that record none. ``known`` maps each trigger of the
        flows to whether it records an ``org_id``."""
        for rule in self.rules:
            unknown = [t for t in rule.triggers if t not in known]
            if unknown:
                raise FlowDefinitionError(
                    f"numbering rule {rule.key!r} names {', '.join(unknown)}, which no flow of "
                    "this engine has; check the trigger names (mediation-flow states)"
                )
            blind = [t for t in rule.triggers if rule.uses_org and not known[t]]
            if blind:
                raise FlowDefinitionError(
                    f"numbering rule {rule.key!r} numbers by organisation ({{org}} or "
                    f"prefixes), but {', '.join(blind)} records no org_id; give the commission "
                    "or court its prefix directly"
                )


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SERIAL = re.compile(r"^(\d{6})-?(\d{6})-?([0-9A-HJKMNP-TV-Z]{8})$")


def new_serial(region: str, day: date) -> str:
    """A fresh serial for a case of ``region`` opened on ``day``."""
    tail = "".join(secrets.choice(_CROCKFORD) for _ in range(8))
    return f"{region}-{day:%y%m%d}-{tail}"


def normalise_reference(reference: Any) -> str | None:
    """A serial as typed by a person (lower case, spaces, O for 0, I or L for 1) in its stored
    form; ``None`` if ``reference`` is not shaped like a serial (it may be a case number)."""
    if not isinstance(reference, str):
        return None
    text = re.sub(r"[\s\-_]", "", reference.strip().upper())
    text = text.translate(str.maketrans("OIL", "011"))
    match = _SERIAL.match(text)
    if match is None:
        return None
    return "-".join(match.groups())


_BRACKETS = "[]()【】（）〔〕"


def number_variants(text: str) -> list[str]:
    """A case number as typed, and with its brackets in the two forms numbers use (〔2025〕 for
    mediation and arbitration, （2025） for courts): people type ``[2025]`` or ``(2025)``."""
    compact = "".join(text.split())
    variants = [text, compact]
    for opening, closing in (("〔", "〕"), ("（", "）")):
        variants.append(compact.translate(str.maketrans(_BRACKETS, (opening + closing) * 5)))
    return list(dict.fromkeys(variants))
