"""Personal data (mediation_flow.personal_data): identity numbers (GB 11643-1999), credit codes
(GB 32100-2015 with the GB 11714-1997 organisation code), phone numbers, and their masking in
text, exports and structlog events.

Valid numbers are computed here by small helpers written from the standards, independently of
the module; the published examples are checked against those helpers first.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import namedtuple
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
import structlog
from hypothesis import assume, given
from hypothesis import strategies as st

from mediation_flow.errors import InvalidIntake
from mediation_flow.personal_data import (
    PERSONAL_FIELDS,
    check_credit_code,
    check_identity_number,
    check_intake_field,
    check_phone,
    mask_identity_number,
    mask_personal_data,
    mask_phone,
    mask_text,
    mask_value,
)

TODAY = date(2025, 6, 3)

# --- helpers written from the standards ---------------------------------------------------------

ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # ISO 7064 MOD 11-2: 7 9 10 5 8 4 2 ...
ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [3**i % 31 for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28


def make_id(region: str = "430102", birth: date = date(1990, 1, 1), sequence: int = 123) -> str:
    """An identity number with its GB 11643 check digit."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def org_check(body: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation code body."""
    c9 = 11 - sum(int(c, 36) * w for c, w in zip(body, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def uscc_check(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_credit_code(head: str = "91", division: str = "430102", body: str = "MA4L0001") -> str:
    """A credit code with both check characters."""
    first17 = head + division + body + org_check(body)
    return first17 + uscc_check(first17)


def test_helpers_use_the_published_weights() -> None:
    assert ID_WEIGHTS == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    assert USCC_WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    # GB 11714-1997's own example: D2143569-X.
    assert org_check("D2143569") == "X"
    # GB 11643-1999's example number.
    assert make_id("110105", date(1949, 12, 31), 2) == "11010519491231002X"


# --- identity numbers -------------------------------------------------------------------------

REGIONS = ["110105", "310104", "430102", "440305", "510107", "650102", "810000", "830000"]


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the example of GB 11643-1999
        make_id(),
        make_id("440305", date(2000, 2, 29), 7),
        make_id("650102", date(1900, 1, 1), 999),
        make_id("810000", TODAY, 0),  # born today: not in the future
    ],
)
def test_valid_identity_numbers(number: str) -> None:
    assert check_identity_number(number, today=TODAY) == number


def test_identity_number_is_normalised() -> None:
    assert check_identity_number("11010519491231002x", TODAY) == "11010519491231002X"
    assert check_identity_number("  11010519491231002X\n", TODAY) == "11010519491231002X"
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "11010519491231002X")
    assert check_identity_number(full_width, TODAY) == "11010519491231002X"


def test_identity_number_today_defaults_to_now_and_accepts_a_datetime() -> None:
    assert check_identity_number(make_id()) == make_id()
    tomorrow = make_id(birth=date(2025, 6, 4))
    assert check_identity_number(tomorrow, datetime(2025, 6, 4, 8, 0)) == tomorrow


def _wrong_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (_wrong_check_digit(make_id()), "check digit does not match"),
        ("430102199002301234", "not a real date"),  # 30 February
        ("430102199013011234", "not a real date"),
        (make_id(birth=date(2025, 6, 4)), "in the future"),
        (make_id(birth=date(1899, 12, 31)), "before 1900"),
        (make_id("991021"), "province-level code"),
        (make_id("001021"), "province-level code"),
        (make_id("241021"), "province-level code"),
        (make_id()[:17], "18 characters"),
        (make_id() + "1", "18 characters"),
        ("430102900101123", "15-digit numbers were replaced in 2004"),
        ("43010219900101123A", "a digit or X"),
        ("4301021990O1011234", "a digit or X"),
        ("430102-9900101-234", "a digit or X"),
    ],
)
def test_invalid_identity_numbers(number: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        check_identity_number(number, today=TODAY)
    assert number not in str(raised.value)
    assert number[6:14] not in str(raised.value)


def test_identity_number_must_be_a_string() -> None:
    with pytest.raises(ValueError, match="string"):
        check_identity_number(430102199001011238, TODAY)  # type: ignore[arg-type]


ID_REASONS = "check digit|birth date|province-level|a digit or X"
identity_numbers = st.builds(
    make_id,
    region=st.sampled_from(REGIONS),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    sequence=st.integers(0, 999),
)


@given(identity_numbers)
def test_every_generated_identity_number_validates(number: str) -> None:
    assert check_identity_number(number, today=TODAY) == number


@given(identity_numbers, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_a_single_changed_character_is_caught(number: str, position: int, new: str) -> None:
    assume(new != number[position])
    assume(position == 17 or new != "X")  # X only ever stands in the last place
    changed = number[:position] + new + number[position + 1 :]
    with pytest.raises(ValueError, match=ID_REASONS) as raised:
        check_identity_number(changed, today=TODAY)
    assert changed not in str(raised.value)


@given(identity_numbers, st.integers(0, 16))
def test_a_swap_of_adjacent_digits_is_caught(number: str, position: int) -> None:
    a, b = number[position], number[position + 1]
    assume(a != b and b != "X")
    swapped = number[:position] + b + a + number[position + 2 :]
    with pytest.raises(ValueError, match=ID_REASONS):
        check_identity_number(swapped, today=TODAY)


# --- credit codes -------------------------------------------------------------------------------

PUBLISHED_CREDIT_CODES = [
    "91350100M000100Y43",  # the usual example of GB 32100
    "91110000600037341L",  # python-stdnum's example
    "91230184MA1BUFLT44",
    "92371000MA3MXH0E3W",  # an individual business (92)
    "12440600MB2C07549J",  # a public institution (12)
]


@pytest.mark.parametrize("code", PUBLISHED_CREDIT_CODES)
def test_published_credit_codes_are_valid(code: str) -> None:
    # Both check characters agree with the helpers written from the standards.
    assert code[16] == org_check(code[8:16])
    assert code[17] == uscc_check(code[:17])
    assert check_credit_code(code) == code
    assert check_credit_code(code.lower()) == code


@pytest.mark.parametrize(
    "code",
    [
        make_credit_code(),
        make_credit_code("11", "100000", "00001302"),
        make_credit_code("Y1", "110105", "D2143569"),  # organisation check character X
        make_credit_code("51", "650102", "50000000"),
    ],
)
def test_computed_credit_codes_are_valid(code: str) -> None:
    assert check_credit_code(code) == code


def test_credit_code_is_normalised() -> None:
    code = make_credit_code()
    assert check_credit_code(f"  {code.lower()} ") == code
    assert check_credit_code("".join(chr(ord(c) + 0xFEE0) for c in code)) == code


@pytest.mark.parametrize("letter", "IOZSV")
def test_credit_code_letters_never_used(letter: str) -> None:
    code = make_credit_code()
    bad = code[:10] + letter + code[11:]
    with pytest.raises(ValueError, match="not used in credit codes") as raised:
        check_credit_code(bad)
    assert bad not in str(raised.value)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y44", "check character does not match"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("9135010AM000100Y43", "administrative division"),
        ("91350100M000100Y4-", "not used in credit codes"),
    ],
)
def test_invalid_credit_codes(code: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        check_credit_code(code)
    assert code not in str(raised.value)


def test_credit_code_organisation_check_character() -> None:
    # A right GB 32100 check character over a wrong GB 11714 one: only the second check sees it.
    first17 = "91430102MA4L0001" + ("0" if org_check("MA4L0001") != "0" else "1")
    code = first17 + uscc_check(first17)
    with pytest.raises(ValueError, match="GB 11714"):
        check_credit_code(code)
    assert check_credit_code(code, strict=False) == code


def test_credit_code_outside_the_standard_with_strict_false() -> None:
    # A real Xiamen code from before 2016 whose check character does not follow GB 32100.
    with pytest.raises(ValueError, match="check character"):
        check_credit_code("91350203M0001QKT19")
    assert check_credit_code("91350203M0001qkt19", strict=False) == "91350203M0001QKT19"
    with pytest.raises(ValueError, match="not used"):
        check_credit_code("91350203M0001QKTI9", strict=False)


@given(
    st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8),
    st.integers(0, 17),
    st.sampled_from(USCC_ALPHABET),
)
def test_a_single_changed_credit_code_character_is_caught(
    body: str, position: int, new: str
) -> None:
    code = make_credit_code(body=body)
    assert check_credit_code(code) == code
    assume(new != code[position])
    changed = code[:position] + new + code[position + 1 :]
    with pytest.raises(ValueError, match=r"check character|not used|administrative division"):
        check_credit_code(changed)


# --- phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("13800138000", "13800138000"),
        ("199 1234 5678", "19912345678"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("0731-88886666", "0731-88886666"),
        ("010-62345678", "010-62345678"),
        ("(010)62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
        ("020 83838383", "020-83838383"),
        ("073188886666", "0731-88886666"),
        ("0731-8888666", "0731-8888666"),
        ("0731-88886666-123", "0731-88886666-123"),
        ("0731-88886666转8001", "0731-88886666-8001"),
        ("0731-88886666 ext. 12", "0731-88886666-12"),
    ],
)
def test_valid_phone_numbers(value: str, normalised: str) -> None:
    assert check_phone(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "",
        "12800138000",  # 12x is not a mobile prefix
        "1380013800",
        "138001380001",
        "88886666",  # no area code
        "0031-88886666",  # 00 is the international prefix
        "011-62345678",  # no such area code
        "073-188886666",  # the area code written in the wrong place
        "0731-08886666",  # subscriber numbers do not start with 0 or 1
        "400-800-1234",
        "95588",
        "+852 9123 4567",
        "138OO138OOO",
    ],
)
def test_invalid_phone_numbers(value: str) -> None:
    with pytest.raises(ValueError, match=r"not a mainland mobile number|is empty") as raised:
        check_phone(value)
    if value:
        assert value not in str(raised.value)


def test_check_intake_field_raises_invalid_intake() -> None:
    bad = _wrong_check_digit(make_id())
    with pytest.raises(InvalidIntake) as raised:
        check_intake_field("parties[0].id_number", bad, check_identity_number)
    assert raised.value.field == "parties[0].id_number"
    assert raised.value.reason == "check digit does not match"
    assert bad not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(InvalidIntake, match="must be a string"):
        check_intake_field("parties[0].phone", 13800138000, check_phone)
    assert check_intake_field("parties[0].phone", "138 0013 8000", check_phone) == "13800138000"
    assert check_intake_field("employer.code", PUBLISHED_CREDIT_CODES[0], check_credit_code)


# --- masks --------------------------------------------------------------------------------------

ID = make_id()  # 430102199001011238
MOBILE = "13800138000"


def test_mask_identity_number() -> None:
    assert ID == "430102199001011238"
    assert mask_identity_number(ID) == "430102********1238"
    assert mask_identity_number("11010519491231002x") == "110105********002X"
    assert mask_identity_number("430102 19900101 1238") == "430102********1238"
    assert mask_identity_number("430102900101123") == "430102******123"
    for other in ["", "张三", "4301021990", "not an id number at all", "1" * 19]:
        assert mask_identity_number(other) == "***"
    assert mask_identity_number(430102199001011238) == "***"  # type: ignore[arg-type]


def test_mask_phone() -> None:
    assert mask_phone(MOBILE) == "138****8000"
    assert mask_phone("+86 138-0013-8000") == "138****8000"
    assert mask_phone("0731-88886666") == "0731-****6666"
    assert mask_phone("0731-8888666-12") == "0731-***8666"
    assert mask_phone("(010)62345678") == "010-****5678"
    assert mask_phone("12345") == "***"
    assert mask_phone(None) == "***"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"身份证{ID}号", "身份证430102********1238号"),
        (f"身份证号：{ID}，手机{MOBILE}。", "身份证号：430102********1238，手机138****8000。"),
        ("id 11010519491231002X.", "id 110105********002X."),
        ("id 11010519491231002x", "id 110105********002x"),
        ("430102 19900101 1238", "430102 ******** 1238"),
        ("430102-19900101-1238", "430102-********-1238"),
        ("旧身份证430102900101123", "旧身份证430102******123"),
        (f"'{MOBILE}'", "'138****8000'"),
        (f"phone={MOBILE}&x=1", "phone=138****8000&x=1"),
        ("电话 +86 138 0013 8000", "电话 +86 138****8000"),
        ("电话8613800138000", "电话86138****8000"),
        ("138-0013-8000", "138****8000"),
        ("１３８００１３８０００", "１３８****８０００"),
        ("办公电话0731-88886666", "办公电话0731-****6666"),
        ("(010)62345678转123", "(010)****5678转123"),
        (f"{ID}\n{MOBILE}", "430102********1238\n138****8000"),
        (
            f'ValueError(\'bad party {{"id_number": "{ID}", "phone": "{MOBILE}"}}\')',
            'ValueError(\'bad party {"id_number": "430102********1238", "phone": "138****8000"}\')',
        ),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "张三诉长沙某建筑工程有限公司拖欠工资",
        "拖欠工资18000.00元，经济补偿金36000.50元",
        "2025-06-03 立案, 2025-06-03T09:00:00+08:00",
        "case 1234567, seq 42, duration 12.5 ms",
        "湘劳人仲案字〔2025〕第123号",
        "amount 13800138000.00",  # an 11-digit amount is not a phone number
        "ratio 0.13800138000",  # nor the fraction of a number
        "a run 1380013800012345 of digits",  # 16 digits: part of a longer number
        "hash 3f2a13800138000b",  # inside a hexadecimal id
        "employer 91350100M000100Y43",  # credit codes are public, not masked
        f"employer {make_credit_code('11', '100000', '00001302')}",  # all digits, not an id
        "version 1.2.3, port 8080, pid 12345",
    ],
)
def test_mask_text_leaves_other_text_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_of_a_non_string_is_returned_as_is() -> None:
    assert mask_text(None) is None  # type: ignore[arg-type]


mobiles = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
# Anything that is neither an ASCII letter or digit nor "." (a "." before a digit makes a decimal
# number of the token): what separates a number from the text around it.
separators = st.sampled_from([" ", "\n", "：", ":", "，", "。", "号", "(", ")", "'", '"', "/", "="])


@given(
    st.text(),
    separators,
    st.one_of(identity_numbers, mobiles),
    separators,
    st.text(),
)
def test_mask_text_never_leaves_a_number_in_text(
    before: str, left: str, number: str, right: str, after: str
) -> None:
    masked = mask_text(before + left + number + right + after)
    assert number not in masked
    # what remains of it is its masked form (or, for a mobile, the masked form after "86")
    if len(number) == 18:
        assert f"{number[:6]}********{number[-4:]}" in masked
    else:
        assert f"{number[:3]}****{number[-4:]}" in masked


def _amount(cents: int) -> str:
    return f"{cents / 100:.2f}" if cents < 10**15 else f"{cents // 100}.{cents % 100:02d}"


plain_tokens = st.one_of(
    st.text(
        alphabet=st.characters(
            categories=["L", "Zs"], exclude_characters="\uff38\uff58", max_codepoint=0x9FFF
        ),
        max_size=12,
    ),
    st.integers(0, 10**14).map(_amount),
    st.dates().map(date.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.integers(0, 10**6).map(str),
    st.integers(2000, 2030).map(lambda year: f"〔{year}〕第"),
)
token_separators = st.sampled_from(["，", "、", "; ", " / ", "：", "\n", "。"])


@given(st.lists(plain_tokens, max_size=12), token_separators)
def test_mask_text_leaves_text_without_numbers_unchanged(tokens: list[str], sep: str) -> None:
    text = sep.join(tokens)
    assert mask_text(text) == text


# --- field names and mask_value -----------------------------------------------------------------


def test_personal_fields() -> None:
    assert {"id_number", "phone", "mobile", "telephone", "identity_number", "id_card"} <= (
        PERSONAL_FIELDS
    )


@pytest.mark.parametrize(
    ("key", "value", "masked"),
    [
        ("id_number", ID, "430102********1238"),
        ("idNumber", ID, "430102********1238"),
        ("ID-Number", ID, "430102********1238"),
        ("IDNumber", ID, "430102********1238"),
        ("applicantPhoneNumber", MOBILE, "138****8000"),
        ("worker_id_number", ID, "430102********1238"),
        ("申请人身份证号", ID, "430102********1238"),
        ("id_card", "not a number", "***"),
        ("phone", MOBILE, "138****8000"),
        ("contact_phone", "0731-88886666", "0731-****6666"),
        ("Mobile", "+86 13800138000", "138****8000"),
        ("联系电话", MOBILE, "138****8000"),
        ("phone", 13800138000, "***"),
        ("id_number", 430102199001011238, "***"),
        ("phone", None, None),
        ("phone", [MOBILE, "0731-88886666"], ["138****8000", "0731-****6666"]),
        ("phone", {"home": "0731-88886666"}, {"home": "0731-****6666"}),
        ("note", f"电话{MOBILE}", "电话138****8000"),
        ("note", 13800138000, "138****8000"),
        ("amount", 18000, 18000),
        ("phone_verified", True, True),
        ("case_id", 430102, 430102),
        ("credit_code", "91350100M000100Y43", "91350100M000100Y43"),
    ],
)
def test_mask_value(key: str, value: Any, masked: Any) -> None:
    assert mask_value(key, value) == masked


def test_mask_value_recurses_and_copies() -> None:
    Party = namedtuple("Party", "name id_number")
    record: dict[str, Any] = {
        "parties": [
            {"name": "张三", "id_number": ID, "phone": MOBILE},
            {"name": "长沙某建筑工程有限公司", "credit_code": "91350100M000100Y43"},
        ],
        "notes": (f"call {MOBILE}", "ok"),
        "tags": {"wages", f"id {ID}"},
        "party": Party("张三", f"id {ID}"),
        "unchanged": {"amount": "18000.00", "items": [1, 2, 3]},
    }
    before = copy.deepcopy(record)
    masked = mask_value("record", record)
    assert record == before
    assert masked["parties"][0] == {
        "name": "张三",
        "id_number": "430102********1238",
        "phone": "138****8000",
    }
    assert masked["parties"][1] == record["parties"][1]
    assert masked["notes"] == ("call 138****8000", "ok")
    assert masked["tags"] == {"wages", "id 430102********1238"}
    assert masked["party"] == Party("张三", "id 430102********1238")
    assert type(masked["party"]) is Party
    # what needs no masking is returned as it is, not copied
    assert masked["unchanged"] is record["unchanged"]
    assert mask_value("x", "plain") == "plain"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Holder:
    def __init__(self, phone: str) -> None:
        self.phone = phone

    def __repr__(self) -> str:
        return f"Holder(phone={self.phone!r})"


def test_mask_value_of_objects() -> None:
    holder = Holder(MOBILE)
    assert mask_value("who", holder) == "Holder(phone='138****8000')"
    clean = Holder("none")
    assert mask_value("who", clean) is clean
    assert mask_value("what", Unprintable()) == "<unprintable Unprintable>"
    assert mask_value("phone", Unprintable()) == "***"
    error = ValueError(f"bad id {ID}")
    assert mask_value("error", error) == "ValueError('bad id 430102********1238')"
    assert mask_value("when", TODAY) is TODAY
    assert mask_value("raw", MOBILE.encode()) == "b'138****8000'"
    cycle: list[Any] = [f"tel {MOBILE}"]
    cycle.append(cycle)
    masked = mask_value("cycle", cycle)
    assert MOBILE not in repr(masked)


# --- the structlog processor --------------------------------------------------------------------

Chain = Callable[..., Any]


def make_logger(*processors: Any) -> Any:
    return structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[*processors, structlog.processors.JSONRenderer(ensure_ascii=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )


def _log_everything(log: Any) -> tuple[str, dict[str, Any]]:
    data = {"parties": [{"name": "张三", "id_number": ID, "phone": MOBILE}], "amount": "18000.00"}
    before = copy.deepcopy(data)
    try:
        raise ValueError(f"party with id {ID} and phone {MOBILE} refused")
    except ValueError:
        line: str = log.exception(
            "intake refused",
            id_number=ID,
            phone=MOBILE,
            data=data,
            note=f"申请人身份证号{ID}，手机{MOBILE}，工资18000.00元",
        )
    assert data == before  # the caller's objects are not changed
    return line, json.loads(line)


def test_processor_after_format_exc_info() -> None:
    log = make_logger(structlog.processors.format_exc_info, mask_personal_data)
    line, event = _log_everything(log)
    assert ID not in line and MOBILE not in line
    assert ID[6:14] + ID[14:] not in line
    assert event["id_number"] == "430102********1238"
    assert event["phone"] == "138****8000"
    assert event["data"]["parties"][0]["id_number"] == "430102********1238"
    assert event["data"]["parties"][0]["phone"] == "138****8000"
    assert event["data"]["amount"] == "18000.00"
    assert event["note"] == "申请人身份证号430102********1238，手机138****8000，工资18000.00元"
    assert "Traceback" in event["exception"]
    assert "party with id 430102********1238 and phone 138****8000 refused" in event["exception"]
    assert event["event"] == "intake refused"


def test_processor_formats_exc_info_itself() -> None:
    log = make_logger(mask_personal_data)
    line, event = _log_everything(log)
    assert ID not in line and MOBILE not in line
    assert "exc_info" not in event
    assert "party with id 430102********1238 and phone 138****8000 refused" in event["exception"]


def test_processor_after_dict_tracebacks() -> None:
    log = make_logger(structlog.processors.dict_tracebacks, mask_personal_data)

    def refuse(id_number: str) -> None:
        raise ValueError(f"bad party {id_number}")

    try:
        refuse(ID)  # the frame's locals hold the number
    except ValueError:
        line = log.exception("refused", phone=MOBILE)
    assert ID not in line and MOBILE not in line
    assert "430102********1238" in line


def test_processor_masks_exception_values_and_exc_info_instances() -> None:
    log = make_logger(mask_personal_data)
    error = RuntimeError(f"call {MOBILE}")
    event = json.loads(log.error("failed", error=error, exc_info=error))
    assert event["error"] == "RuntimeError('call 138****8000')"
    assert "RuntimeError: call 138****8000" in event["exception"]
    assert str(error) == f"call {MOBILE}"


def test_processor_returns_a_new_dict_and_never_raises() -> None:
    event_dict: dict[Any, Any] = {
        "event": f"tel {MOBILE}",
        "weird": Unprintable(),
        "phone": Unprintable(),
        3: "non-string key",
        f"{MOBILE}": "a number as a key",
    }
    original = dict(event_dict)
    result: Any = mask_personal_data(None, "info", event_dict)
    assert event_dict == original
    assert result is not event_dict
    assert result["event"] == "tel 138****8000"
    assert result["weird"] == "<unprintable Unprintable>"
    assert result["phone"] == "***"
    assert result[3] == "non-string key"
    assert result["138****8000"] == "a number as a key"


def test_processor_survives_a_broken_exception_formatter() -> None:
    result = mask_personal_data(None, "error", {"event": "x", "exc_info": ("not", "a", "tuple")})
    assert "exc_info" not in result
    assert isinstance(result.get("exception", ""), str)


def test_processor_survives_a_broken_event_dict() -> None:
    class Broken(dict[str, Any]):
        def __iter__(self) -> Any:
            raise RuntimeError("broken")

        def keys(self) -> Any:
            raise RuntimeError("broken")

        def items(self) -> Any:
            raise RuntimeError("broken")

    result = mask_personal_data(None, "info", Broken(event="x"))
    assert result["event"].startswith("<log event dropped")


def test_unprintable_value_in_a_chain_still_logs() -> None:
    log = make_logger(structlog.processors.format_exc_info, mask_personal_data)
    event = json.loads(log.info("odd", thing=Unprintable(), phone=MOBILE))
    assert event == {"event": "odd", "thing": "<unprintable Unprintable>", "phone": "138****8000"}


def test_processor_keeps_processor_formatter_keys() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, f"tel {MOBILE}", None, None)
    result = mask_personal_data(None, "info", {"event": "x", "_record": record})
    assert result["_record"] is record
