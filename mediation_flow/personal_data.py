"""Personal data: validate identity numbers, credit codes and phone numbers; mask them in logs.

Dispute files hold workers' identity numbers, phone numbers and wages. This module

* validates, at intake, a citizen identity number (GB 11643-1999, ISO 7064 MOD 11-2 check
  digit), a unified social credit code (GB 32100-2015 check character, and the GB 11714-1997
  check character of the organisation code inside it) and a phone number. The checks raise
  :class:`ValueError` with a short English reason that never repeats the value;
  :func:`check_intake_field` turns that into :class:`~mediation_flow.errors.InvalidIntake`;
* masks identity numbers and phone numbers: :func:`mask_identity_number`
  (``430102********1234``), :func:`mask_phone` (``138****8000``, ``0731-****6666``) and
  :func:`mask_text`, which finds them inside free text. Credit codes are *not* masked: they
  identify employers and are public;
* provides :func:`mask_personal_data`, a structlog processor that masks every log event, and
  :func:`mask_value`, the same masking for one field of an export.

Placing the processor
---------------------
Put :func:`mask_personal_data` after every processor that adds text to the event (the exception
formatter :data:`structlog.processors.format_exc_info` or
:data:`structlog.processors.dict_tracebacks`, ``StackInfoRenderer``, ``CallsiteParameterAdder``)
and right before the renderer::

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )

If an ``exc_info`` is still in the event when the processor runs (``exc_info=True``, an exception
instance or a ``sys.exc_info()`` tuple: no exception formatter ran before it), the processor
formats it itself with :data:`~structlog.processors.format_exc_info` and masks the text, so a
traceback never reaches the renderer unmasked (a ``ConsoleRenderer`` then prints that text
rather than its own pretty traceback).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog
from structlog.typing import EventDict, WrappedLogger

from mediation_flow.errors import InvalidIntake

__all__ = [
    "PERSONAL_FIELDS",
    "check_credit_code",
    "check_identity_number",
    "check_intake_field",
    "check_phone",
    "mask_identity_number",
    "mask_personal_data",
    "mask_phone",
    "mask_text",
    "mask_value",
]

_CHINA = ZoneInfo("Asia/Shanghai")

# --- GB 11643-1999: citizen identity number --------------------------------------------------

#: Weights of the first 17 digits (2^(18-i) mod 11, ISO 7064 MOD 11-2).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character for each remainder 0..10 of the weighted sum mod 11.
_ID_CHECK = "10X98765432"
#: Province-level codes of GB/T 2260 (first two digits of the region code), plus 83: the
#: residence permits of Taiwan residents (2018) use 830000, as those of Hong Kong and Macao
#: residents use 810000 and 820000.
_PROVINCES = frozenset(
    {
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
    }
)
_ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")


def _normalise(value: str) -> str:
    """NFKC (full-width digits and letters become ASCII), surrounding whitespace removed."""
    return unicodedata.normalize("NFKC", value).strip()


def _identity_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _birth_date(digits: str) -> date | None:
    """The date of ``YYYYMMDD``, or None when it is not a real date."""
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def check_identity_number(value: str, today: date | None = None) -> str:
    """Validate a citizen identity number (公民身份号码) of GB 11643-1999; return it normalised.

    The number has 18 characters: a 6-digit region code (GB/T 2260; its first two digits must
    be a province-level code), the birth date ``YYYYMMDD`` (a real date, not before 1900 and not
    after ``today``: default, today in China), a 3-digit sequence number and a check character
    computed with ISO 7064 MOD 11-2: the weighted sum of the first 17 digits (weights
    7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) modulo 11 gives, for remainders 0..10, the character
    ``1 0 X 9 8 7 6 5 4 3 2``.

    Surrounding whitespace is ignored, full-width characters count as their ASCII forms and a
    lower-case ``x`` is accepted; the result has an upper-case ``X``. The 15-digit numbers of
    the first generation cards are refused (they were replaced in 2004).

    Raises:
        ValueError: with a short reason that never contains the number.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    number = _normalise(value).upper()
    if len(number) == 15 and number.isascii() and number.isdigit():
        raise ValueError("15-digit numbers were replaced in 2004; give the 18-digit number")
    if len(number) != 18:
        raise ValueError("must be 18 characters")
    if not _ID_FORMAT.fullmatch(number):
        raise ValueError("the first 17 characters must be digits and the last a digit or X")
    if int(number[:2]) not in _PROVINCES:
        raise ValueError("the region code does not start with a province-level code")
    birth = _birth_date(number[6:14])
    if birth is None:
        raise ValueError("the birth date (characters 7-14) is not a real date")
    if birth.year < 1900:
        raise ValueError("the birth date is before 1900")
    if today is None:
        today = datetime.now(_CHINA).date()
    elif isinstance(today, datetime):
        today = today.date()
    if birth > today:
        raise ValueError("the birth date is in the future")
    if _identity_check_digit(number[:17]) != number[17]:
        raise ValueError("check digit does not match")
    return number


# --- GB 32100-2015: unified social credit code -----------------------------------------------

#: The 31 characters of GB 32100 (no I, O, S, V, Z); a character's value is its index.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: GB 11714-1997 organisation code: weights of the 8 characters of its body.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _credit_check_character(first17: str) -> str:
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _organisation_check_character(body8: str) -> str:
    # GB 11714 values: digits 0-9, letters A-Z 10-35 (the base-36 digits).
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def _is_valid_credit_code(code: str) -> bool:
    """Whether an upper-case 18-character string passes every check of check_credit_code."""
    return (
        len(code) == 18
        and all(c in _USCC_VALUES for c in code)
        and code[2:8].isdigit()
        and _credit_check_character(code[:17]) == code[17]
        and _organisation_check_character(code[8:16]) == code[16]
    )


def check_credit_code(value: str, *, strict: bool = True) -> str:
    """Validate a unified social credit code (统一社会信用代码) of GB 32100-2015; return it
    normalised (upper case).

    The code has 18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (I, O, S, V and Z are
    never used): the registration authority (character 1: 1, 5, 9, Y, ...), the organisation
    type (2), the administrative division of the registering authority (3-8, GB/T 2260 digits),
    the organisation code (9-17, GB 11714-1997) and a check character (18). Each character is
    worth its index in the alphabet; with the weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10
    30 28 the check character is worth ``31 - (sum mod 31)`` (31 becoming 0).

    The organisation code carries its own GB 11714-1997 check character (character 17): with
    its first 8 characters worth 0-9 and A-Z = 10-35 and the weights 3 7 9 10 5 8 4 2,
    ``C9 = 11 - (sum mod 11)``, written ``X`` for 10 and ``0`` for 11. Both are checked.

    Characters 1 and 2 are not checked against a list of authorities and types: the lists have
    grown since 2015. A few codes issued before the standard applied everywhere (some Xiamen
    companies registered before 2016) carry a check character that does not follow it;
    ``strict=False`` checks only the length and the characters, for a caller that must accept
    such a code after a person has confirmed it.

    Surrounding whitespace is ignored, full-width characters count as their ASCII forms and
    lower-case letters are accepted.

    Raises:
        ValueError: with a short reason that never contains the code.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    code = _normalise(value).upper()
    if len(code) != 18:
        raise ValueError("must be 18 characters")
    if any(c not in _USCC_VALUES for c in code):
        raise ValueError(
            "contains a character not used in credit codes "
            "(only digits and capital letters other than I, O, S, V and Z)"
        )
    if not code[2:8].isdigit():
        raise ValueError("characters 3-8 must be the digits of an administrative division code")
    if strict:
        if _credit_check_character(code[:17]) != code[17]:
            raise ValueError("check character does not match")
        if _organisation_check_character(code[8:16]) != code[16]:
            raise ValueError(
                "the organisation code (characters 9-17) has a wrong GB 11714 check character"
            )
    return code


# --- phone numbers ----------------------------------------------------------------------------

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_LANDLINE = re.compile(
    r"(?:\((?P<a1>0[0-9]{2,3})\)\s*|(?P<a2>0[0-9]{2,3})(?P<sep>[\s-]?))"
    r"(?P<sub>[0-9]{7,8})"
    r"(?:\s*(?:-|转|ext\.?|x|#)\s*(?P<ext>[0-9]{1,6}))?",
    re.IGNORECASE | re.ASCII,
)


def _split_landline(value: str) -> tuple[str, str, str | None] | None:
    """(area code, subscriber number, extension) of a landline number, or None."""
    m = _LANDLINE.fullmatch(value)
    if m is None:
        return None
    written_area = m.group("a1") or m.group("a2")
    digits = written_area + m.group("sub")
    # 010 and 020-029 are the only 3-digit area codes; every other one has 4 digits. An area
    # code starting 00 is the international prefix, and 01x other than 010 does not exist.
    if digits[1] == "0" or (digits[1] == "1" and digits[2] != "0"):
        return None
    area_length = 3 if digits[1] in "12" else 4
    area, subscriber = digits[:area_length], digits[area_length:]
    separated = m.group("a1") is not None or bool(m.group("sep"))
    if separated and area != written_area:
        return None
    if len(subscriber) not in (7, 8) or subscriber[0] in "01":
        return None
    return area, subscriber, m.group("ext")


def check_phone(value: str) -> str:
    """Validate a mainland phone number; return it normalised.

    Two forms are accepted:

    * a mobile number: 11 digits starting ``13``-``19`` (the numbering plan of the Ministry of
      Industry and Information Technology), optionally after ``+86``, ``0086`` or ``86``, with
      any spaces and dashes. Returned as the 11 digits: ``13800138000``;
    * a landline number with its area code: ``0`` and 2 or 3 digits (``010`` and ``020``-``029``
      have 3 digits, every other area code 4), then a 7- or 8-digit subscriber number not
      starting with 0 or 1, the area code optionally in parentheses or followed by a space or a
      dash, and optionally an extension after ``-``, ``转``, ``ext``, ``x`` or ``#``. Returned as
      ``0731-88886666`` or ``0731-88886666-123``.

    Service numbers (``400``/``800``, ``95xxx``, ``12345``) and foreign numbers are refused.
    Surrounding whitespace is ignored and full-width characters count as their ASCII forms.

    Raises:
        ValueError: with a short reason that never contains the number.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = _normalise(value)
    if not text:
        raise ValueError("is empty")
    compact = re.sub(r"[\s-]", "", text)
    mobile = _MOBILE.fullmatch(compact)
    if mobile is not None:
        return mobile.group(1)
    landline = _split_landline(text)
    if landline is None:
        raise ValueError(
            "not a mainland mobile number (11 digits starting 13-19) "
            "or a landline number with its area code"
        )
    area, subscriber, extension = landline
    return f"{area}-{subscriber}" + (f"-{extension}" if extension else "")


def check_intake_field(field: str, value: object, check: Callable[[str], str]) -> str:
    """Run ``check`` (:func:`check_identity_number`, :func:`check_credit_code`,
    :func:`check_phone`) on an intake value; raise :class:`~mediation_flow.errors.InvalidIntake`
    naming ``field`` (``parties[0].id_number``) with the reason when the value is bad.

    The reason never contains the value, so the error can be logged and shown as it is.
    """
    if not isinstance(value, str):
        raise InvalidIntake(field, "must be a string")
    try:
        return check(value)
    except ValueError as exc:
        raise InvalidIntake(field, str(exc)) from None


# --- masks ------------------------------------------------------------------------------------

_MASKED = "***"
_COMPACT_ID = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")


def mask_identity_number(value: str) -> str:
    """Mask an identity number as Chinese practice does: the region code and the last four
    characters stay, the birth date goes (GB/T 35273 de-identification by masking).

    ``430102199001011234`` becomes ``430102********1234``; a 15-digit number of the first
    generation cards ``430102900101123`` becomes ``430102******123``. Spaces and dashes inside
    the value are dropped first. Anything else (a value that is not an identity number, or not a
    string) becomes ``***``, whatever it holds.
    """
    if not isinstance(value, str):
        return _MASKED
    number = re.sub(r"[\s-]", "", _normalise(value)).upper()
    if not _COMPACT_ID.fullmatch(number):
        return _MASKED
    if len(number) == 18:
        return f"{number[:6]}{'*' * 8}{number[-4:]}"
    return f"{number[:6]}{'*' * 6}{number[-3:]}"


def mask_phone(value: str) -> str:
    """Mask a phone number: the first three and last four digits of a mobile number stay
    (``138****8000``); of a landline the area code and the last four digits stay
    (``0731-****6666``; the extension is dropped).

    The value is read as :func:`check_phone` reads it; anything it does not accept (or a value
    that is not a string) becomes ``***``.
    """
    try:
        number = check_phone(value)
    except ValueError:
        return _MASKED
    if "-" not in number:
        return f"{number[:3]}****{number[-4:]}"
    area, subscriber = number.split("-")[:2]
    return f"{area}-{'*' * (len(subscriber) - 4)}{subscriber[-4:]}"


# Patterns of mask_text. Digits are ASCII or full-width (Chinese input methods type both). A token
# must not touch an ASCII letter or digit on either side (so hexadecimal ids and longer digit
# runs are left alone) but may touch anything else: CJK characters, punctuation, spaces.
_D = "[0-9\uff10-\uff19]"
_X = "[Xx\uff38\uff58]"
# left boundary; a label typed right before the number (ID430102..., tel138..., No.) does not
# protect it
_B = (
    "(?:(?<![0-9A-Za-z\uff10-\uff19])|(?<=[Ii][Dd])|(?<=[Tt][Ee][Ll])|(?<=[Nn][Oo])"
    "|(?<=[Pp][Hh][Oo][Nn][Ee])|(?<=[Mm][Oo][Bb][Ii][Ll][Ee]))"
)
_E = "(?![0-9A-Za-z\uff10-\uff19])"  # right boundary
_EIGHT_SIX = "[8\uff18][6\uff16]"
_CC = f"(?:[+\uff0b]{_EIGHT_SIX}|[0\uff10]{{2}}{_EIGHT_SIX}|{_EIGHT_SIX})[ -]?"  # country code
_MOBILE_HEAD = "[1\uff11][3-9\uff13-\uff19]"
_TEXT_PATTERN = re.compile(
    "|".join(
        [
            # 18-character identity number
            f"{_B}(?P<id>{_D}{{17}}(?:{_D}|{_X})){_E}",
            # written in groups 6-8-4: 430102 19900101 1234
            f"{_B}(?P<idq>{_D}{{4}}(?P<qsep>[ -]){_D}{{4}}(?P=qsep){_D}{{4}}(?P=qsep){_D}{{4}}"
            f"(?P=qsep){_D}(?:{_D}|{_X})){_E}",
            # written in groups 4-4-4-4-2: 4301 0219 9001 0112 34
            f"{_B}(?P<idg>{_D}{{6}}(?P<idsep>[ -]){_D}{{8}}(?P=idsep){_D}{{3}}(?:{_D}|{_X})){_E}",
            # 15-digit number of the first generation cards (masked only if it looks like one)
            f"{_B}(?P<id15>{_D}{{15}}){_E}",
            # mobile number, not the integer or fractional part of a decimal number
            f"{_B}(?<![0-9]\\.)(?P<cc>{_CC})?(?P<mob>{_MOBILE_HEAD}{_D}{{9}}){_E}(?!\\.[0-9])",
            # written in groups 3-4-4: 138 0013 8000
            f"{_B}(?P<cc2>{_CC})?"
            f"(?P<mobg>{_MOBILE_HEAD}{_D}(?P<msep>[ -]){_D}{{4}}(?P=msep){_D}{{4}}){_E}",
            # landline with its area code: (0731)88886666, 0731-88886666
            f"(?:\\((?P<area1>[0\uff10]{_D}{{2,3}})\\) ?"
            f"|{_B}(?<!-)(?P<area2>[0\uff10]{_D}{{2,3}})-)"
            f"(?P<sub>{_D}{{7,8}}){_E}",
        ]
    )
)
#: Every pattern above holds 7 digits in a row or two groups of 4 (``0013 8000``): a cheap test
#: that skips most text before the costly one.
_CANDIDATE = re.compile(f"{_D}{{4}}(?:{_D}{{3}}|[ -]{_D}{{4}})")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_TO_ASCII = str.maketrans(
    "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff38\uff58x",
    "0123456789XXX",
)


def _plausible_identity(number: str) -> bool:
    """Whether ASCII digits read as an identity number have a province and a real birth date."""
    if int(number[:2]) not in _PROVINCES:
        return False
    birth = number[6:14] if len(number) == 18 else "19" + number[6:12]
    return _birth_date(birth) is not None


def _mask_match(m: re.Match[str]) -> str:
    token = m.group(0)
    if m.group("id") is not None:
        number = token.translate(_TO_ASCII)
        # An all-digit credit code is an employer's public code: leave it unless it could also
        # be an identity number.
        if _is_valid_credit_code(number) and not _plausible_identity(number):
            return token
        return f"{token[:6]}{'*' * 8}{token[-4:]}"
    if m.group("idq") is not None:
        sep = m.group("qsep")
        return f"{token[:4]}{sep}****{sep}****{sep}**{token[-5:]}"
    if m.group("idg") is not None:
        sep = m.group("idsep")
        return f"{token[:6]}{sep}{'*' * 8}{sep}{token[-4:]}"
    if m.group("id15") is not None:
        if not _plausible_identity(token.translate(_TO_ASCII)):
            return token
        return f"{token[:6]}{'*' * 6}{token[-3:]}"
    if m.group("mob") is not None:
        mobile = m.group("mob")
        return f"{m.group('cc') or ''}{mobile[:3]}****{mobile[-4:]}"
    if m.group("mobg") is not None:
        mobile = m.group("mobg")
        return f"{m.group('cc2') or ''}{mobile[:3]}****{mobile[-4:]}"
    subscriber = m.group("sub")
    head = token[: m.start("sub") - m.start()]
    return f"{head}{'*' * (len(subscriber) - 4)}{subscriber[-4:]}"


def mask_text(text: str) -> str:
    """Mask every identity number and phone number inside free text; leave the rest alone.

    Masked, wherever they appear (inside Chinese text too: ``身份证430102199001011234号``):

    * 18-character identity numbers: 17 digits and a digit or X, also written 6-8-4 with
      spaces or dashes; masked as :func:`mask_identity_number` does (``430102********1234``).
      The check digit is not required: a mistyped number is still personal data. An all-digit
      string that is a valid credit code and cannot be an identity number is left alone;
    * 15-digit numbers of the first generation identity cards (when they have a province code
      and a real birth date);
    * mobile numbers: 11 digits starting ``13``-``19``, also written 3-4-4 or after ``+86``
      (``138****8000``), but not the integer or fractional part of a decimal number
      (``13800138000.00``, ``0.13800138000``);
    * landline numbers written with their area code: ``0731-88886666``, ``(010)12345678``
      (``0731-****6666``).

    A number counts only as a whole token: not touching an ASCII letter or digit on either side,
    so longer digit runs, hexadecimal ids, amounts (``18000.00``), dates (``2025-06-03``) and
    case ids are never changed. Credit codes are not masked: they identify employers and are
    public. Full-width digits count as digits. A value that is not a string is returned as it is.
    """
    if not isinstance(text, str) or len(text) < 11:
        return text
    if _ZERO_WIDTH.search(text):
        text = _ZERO_WIDTH.sub("", text)  # 430102\u200b1990...: a number split by invisibles
    if not _CANDIDATE.search(text):
        return text
    return _TEXT_PATTERN.sub(_mask_match, text)


# --- field names ------------------------------------------------------------------------------

_IDENTITY_FIELDS = frozenset(
    {
        "id_number",
        "identity_number",
        "id_card",
        "id_card_number",
        "id_card_no",
        "idcard",
        "idnumber",
        "citizen_id",
        "identity_card",
        "identification_number",
        "身份证",
        "身份证号",
        "身份证号码",
        "公民身份号码",
        "证件号码",
    }
)
_PHONE_FIELDS = frozenset(
    {
        "phone",
        "phone_number",
        "mobile",
        "mobile_number",
        "mobile_phone",
        "telephone",
        "telephone_number",
        "tel",
        "cellphone",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
        "联系方式",
    }
)
#: Field names whose values are always masked, whatever they hold. A key matches when, written
#: in snake case (``idNumber`` -> ``id_number``, ``ID-Number`` -> ``id_number``), it is one of
#: these names or ends with ``_`` and one of them (``worker_id_number``, ``contact_phone``); the
#: Chinese names also match as suffixes (``申请人身份证号``, ``紧急联系电话``).
PERSONAL_FIELDS: frozenset[str] = _IDENTITY_FIELDS | _PHONE_FIELDS

_Kind = Literal["id", "phone"] | None
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s.\-]+")


def _matches(name: str, names: frozenset[str]) -> bool:
    return name in names or any(
        name.endswith(field if not field.isascii() else f"_{field}") for field in names
    )


@lru_cache(maxsize=2048)
def _field_kind(key: str) -> _Kind:
    """'id' or 'phone' when the field name says the value is one, else None."""
    name = _SEPARATORS.sub("_", _CAMEL.sub("_", key.strip())).lower()
    if _matches(name, _IDENTITY_FIELDS):
        return "id"
    if _matches(name, _PHONE_FIELDS):
        return "phone"
    return None


def _kind_of(key: object) -> _Kind:
    return _field_kind(key) if isinstance(key, str) else None


# --- masking of values ------------------------------------------------------------------------

#: Nesting deeper than this is rendered as masked text (and cycles stop here).
_MAX_DEPTH = 12
#: Integers closer to 0 than this have fewer than 11 digits: never a phone or identity number.
_SMALL = 10**10
#: Types whose values cannot hold a phone or identity number (in their repr or str).
_INERT = (bool, float, complex, date, time, timedelta, UUID, type(None))
#: structlog's own keys that later processors need as they are (ProcessorFormatter).
_INTERNAL_KEYS = frozenset({"_record", "_from_structlog"})


def _unprintable(value: object) -> str:
    try:
        name = type(value).__name__
    except Exception:
        name = "object"
    return f"<unprintable {name}>"


def _mask_string(text: str, kind: _Kind) -> str:
    if kind == "id":
        return mask_identity_number(text)
    if kind == "phone":
        return mask_phone(text)
    return mask_text(text)


def _mask_object(value: object) -> object:
    """The object itself when neither its repr nor its str holds personal data, else its masked
    repr (a string), or a placeholder when it cannot be printed."""
    try:
        shown = repr(value)
    except Exception:
        return _unprintable(value)
    masked = mask_text(shown)
    if masked != shown:
        return masked
    if type(value).__str__ is not object.__str__:
        try:
            text = str(value)
        except Exception:
            return masked  # the renderer would fail on str(): give it the (clean) repr
        if mask_text(text) != text:
            return masked
    return value


def _mask_mapping(value: Mapping[Any, Any], kind: _Kind, depth: int) -> Any:
    result: dict[Any, Any] = {}
    changed = type(value) is not dict
    for key, item in value.items():
        new_key = mask_text(key) if isinstance(key, str) else key
        new_item = _mask_guarded(item, kind or _kind_of(key), depth + 1)
        changed = changed or new_key is not key or new_item is not item
        result[new_key] = new_item
    return result if changed else value


def _mask_collection(
    value: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any], kind: _Kind, depth: int
) -> Any:
    items = [_mask_guarded(item, kind, depth + 1) for item in value]
    if all(new is old for new, old in zip(items, value, strict=True)):
        return value
    if isinstance(value, list):
        return items
    if isinstance(value, set):
        return set(items)
    if isinstance(value, frozenset):
        return frozenset(items)
    if type(value) is not tuple and hasattr(value, "_make"):  # a named tuple
        try:
            return value._make(items)
        except Exception:
            pass
    return tuple(items)


def _mask(value: Any, kind: _Kind, depth: int) -> Any:
    cls = type(value)
    if cls is str:
        return _mask_string(value, kind)
    if value is None:
        return None
    if kind is None:
        # The common cases first: isinstance() against the ABCs below is slow.
        if cls is int:
            return value if -_SMALL < value < _SMALL else _mask_number(value)
        if cls is bool or cls is float:
            return value
    if isinstance(value, str):
        return _mask_string(value, kind)
    if depth > _MAX_DEPTH:
        return _MASKED if kind is not None else mask_text(repr(value))
    if isinstance(value, Mapping):
        return _mask_mapping(value, kind, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return _mask_collection(value, kind, depth)
    if kind is not None:
        return _MASKED
    if isinstance(value, _INERT):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, Enum):
        return _mask_number(value)
    return _mask_object(value)


def _mask_number(value: int | Decimal) -> Any:
    """A number that reads as a phone or identity number becomes masked text."""
    shown = str(value)
    masked = mask_text(shown)
    return value if masked == shown else masked


def _mask_guarded(value: Any, kind: _Kind, depth: int) -> Any:
    try:
        return _mask(value, kind, depth)
    except Exception:
        return _MASKED if kind is not None else _unprintable(value)


def mask_value(key: str, value: Any) -> Any:
    """Mask one field of an export (or of anything shown to people) by its name and content.

    When ``key`` names personal data (see :data:`PERSONAL_FIELDS`) a string is masked with
    :func:`mask_identity_number` or :func:`mask_phone`, ``None`` stays ``None`` and anything else
    becomes ``***`` (lists, tuples, sets and dicts are masked item by item in the same way).
    Otherwise strings go through :func:`mask_text`, dicts, lists, tuples and sets are masked
    recursively (each nested key decides for its own value), numbers of 11 digits or more are
    masked as text when they look like a phone or identity number, and other objects are
    replaced by their masked repr when their repr or str holds such a number.

    The value given is never modified: a changed container is a new one, an unchanged value is
    returned as it is. Never raises: what cannot be printed becomes ``<unprintable TypeName>``.
    """
    return _mask_guarded(value, _kind_of(key), 0)


# --- the structlog processor ------------------------------------------------------------------


def mask_personal_data(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask identity numbers and phone numbers in a log event.

    Every entry goes through :func:`mask_value`: values under a personal field name
    (:data:`PERSONAL_FIELDS`, at any depth: ``data={"parties": [{"id_number": ...}]}``) are
    masked whatever they contain; every other string, the event text and a formatted traceback
    (``exception``) included, goes through :func:`mask_text`; exception instances are replaced
    by their masked repr when it holds such a number. An ``exc_info`` still in the event is first
    formatted into ``exception`` by :data:`structlog.processors.format_exc_info`.

    Place it after the exception formatter and before the renderer (see the module docstring).
    It returns a new dict and never modifies the caller's objects; it never raises (a processor
    that raises loses the log line): a value it cannot handle becomes ``<unprintable T>``.
    """
    try:
        event: EventDict = dict(event_dict)
        if "exc_info" in event:
            try:
                event = structlog.processors.format_exc_info(logger, method_name, event)
            except Exception:
                event.pop("exc_info", None)
                event["exception"] = "<the exception could not be formatted>"
        masked: dict[str, Any] = {}
        for key, value in event.items():
            if key in _INTERNAL_KEYS:
                masked[key] = value
                continue
            new_key = mask_text(key) if isinstance(key, str) else key
            masked[new_key] = _mask_guarded(value, _kind_of(key), 0)
        return masked
    except Exception as exc:
        return {
            "event": "<log event dropped: its personal data could not be masked>",
            "masking_error": type(exc).__name__,
        }
