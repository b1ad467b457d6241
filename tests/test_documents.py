"""Legal documents: each built-in template rendered for a case at the stage that issues it, read
back from the Word file; overrides, errors, escaping, the HTML-to-DOCX conversion and the
filters.

The sample dispute is the one of ``conftest.make_intake``: 张三 claims unpaid wages and economic
compensation from 长沙某建筑工程有限公司 in Changsha's Furong district, in March 2025.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from hypothesis import given
from hypothesis import strategies as st

from mediation_flow import Engine
from mediation_flow.documents import (
    FORMATS,
    TEMPLATES,
    Document,
    DocumentTemplates,
    TemplateInfo,
    builtin_source,
    document_context,
    docx_text,
    html_to_docx,
    yuan,
    zh_amount,
    zh_date,
    zh_number,
)
from mediation_flow.errors import DocumentError
from mediation_flow.models import Case, CaseNumber
from tests.conftest import SHANGHAI, at, make_intake

WORKER_ID = "430102199001011238"
EMPLOYER = "长沙某建筑工程有限公司"
MEDIATION_ORG = "芙蓉区人民调解委员会"
COMMISSION = "长沙市芙蓉区劳动人事争议仲裁委员会"
MEDIATION_NO = "芙人调字〔2025〕第18号"
ARBITRATION_NO = "湘430102劳人仲案字〔2025〕第12号"
CLAIMS = [
    {"kind": "wages", "amount": "18000.00"},
    {"kind": "economic_compensation", "amount": "9000.50"},
]


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine("sqlite://", entry_points=False)
    yield eng
    eng.close()


@pytest.fixture
def templates() -> DocumentTemplates:
    return DocumentTemplates()


def numbered(case: Case, **numbers: str) -> Case:
    """The case with exactly these case numbers (key -> number), issued in the given order."""
    issued = [
        CaseNumber(key, key, number, number[:8], 2025, i + 1, date(2025, 3, 3), i + 2).to_json()
        for i, (key, number) in enumerate(numbers.items())
    ]
    return dataclasses.replace(case, attributes={**case.attributes, "case_numbers": issued})


def open_case(engine: Engine, **intake: Any) -> Case:
    return engine.open_case(make_intake(claims=CLAIMS, **intake), at=at(2025, 3, 3))


def context(
    engine: Engine, case: Case, values: dict[str, Any] | None = None, **numbers: str
) -> dict[str, Any]:
    current = numbered(engine.get(case.id), **numbers)
    return document_context(
        current, engine.history(case.id), today=date(2025, 3, 31), values=values
    )


def both(templates: DocumentTemplates, name: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """The document's HTML and the text read back from its DOCX."""
    html = templates.render(name, ctx, format="html", case_id=ctx["case_id"])
    word = templates.render(name, ctx, format="docx", case_id=ctx["case_id"])
    assert html.media_type == "text/html; charset=utf-8"
    assert word.content[:2] == b"PK"
    return html.content.decode("utf-8"), docx_text(word.content)


def assert_in_both(texts: tuple[str, str], *expected: str) -> None:
    for text in texts:
        for item in expected:
            assert item in text, item


def agreement_case(engine: Engine, **sign: Any) -> Case:
    """People's mediation received 3 March, accepted 4 March, agreement signed 10 March."""
    case = open_case(engine)
    engine.fire(
        case.id,
        "refer_to_peoples_mediation",
        at=at(2025, 3, 3),
        data={"org_id": MEDIATION_ORG, "received_on": "2025-03-03"},
    )
    engine.fire(case.id, "accept_mediation", at=at(2025, 3, 4), data={"accepted_on": "2025-03-04"})
    data = {"effective_on": "2025-03-10", "perform_by": "2025-03-31", **sign}
    engine.fire(case.id, "sign_agreement", at=at(2025, 3, 10, 15), data=data)
    return case


def arbitration_case(engine: Engine) -> Case:
    """Applied 3 March, accepted 6 March; the respondent was served on 7 March."""
    case = open_case(engine)
    engine.fire(case.id, "apply_arbitration", at=at(2025, 3, 3), data={"received_on": "2025-03-03"})
    engine.fire(
        case.id,
        "accept_arbitration",
        at=at(2025, 3, 6),
        data={"respondent_served_on": "2025-03-07"},
    )
    return case


# --- the five documents -------------------------------------------------------------------------


def test_the_mediation_agreement_after_signing(
    engine: Engine, templates: DocumentTemplates
) -> None:
    case = agreement_case(engine)
    terms = ["被申请人于2025年3月31日前向申请人支付劳动报酬15,000元", "申请人放弃其他请求。"]
    ctx = context(engine, case, {"terms": terms}, peoples_mediation=MEDIATION_NO)
    texts = both(templates, "mediation_agreement", ctx)
    assert_in_both(
        texts,
        "调解协议书",
        MEDIATION_ORG,
        MEDIATION_NO,
        "申请人：张三",
        WORKER_ID,
        f"被申请人：{EMPLOYER}",
        "劳动报酬人民币18,000.00元",
        "经济补偿人民币9,000.50元",
        "合计人民币27,000.50元（大写：贰万柒仟元零伍角整）",
        "于2025年3月3日申请调解，本调解组织于2025年3月4日受理",
        "《中华人民共和国劳动争议调解仲裁法》第十四条",
        "（2025年3月10日生效）",
        "应于2025年3月31日前履行完毕",
        "一、被申请人于2025年3月31日前向申请人支付劳动报酬15,000元；",
        "二、申请人放弃其他请求。",
        "申请仲裁审查（《劳动人事争议仲裁办案规则》第七十四条）",
        "申请支付令（第十六条）",
        "本协议一式三份",
    )
    lines = texts[1].splitlines()
    # The organisation and title head the page; the number follows on its own line.
    assert lines[:3] == [MEDIATION_ORG, "调解协议书", MEDIATION_NO]
    assert lines[-1] == "2025年3月10日"
    assert "____年__月__日" not in texts[1]


def test_an_agreement_confirming_the_labour_relationship_offers_no_arbitration_review(
    engine: Engine, templates: DocumentTemplates
) -> None:
    # AR 75: an agreement confirming a labour relationship cannot be reviewed by arbitration.
    case = agreement_case(engine, confirms_labour_relationship=True)
    _, text = both(templates, "mediation_agreement", context(engine, case))
    assert "仲裁审查" not in text
    assert "自本协议生效之日起三十日内，共同向人民法院申请司法确认" in text


def test_the_acceptance_notice_after_acceptance(
    engine: Engine, templates: DocumentTemplates
) -> None:
    case = arbitration_case(engine)
    values = {"organisation": COMMISSION, "arbitrators": "王五"}
    ctx = context(engine, case, values, arbitration=ARBITRATION_NO)
    texts = both(templates, "acceptance_notice", ctx)
    assert_in_both(
        texts,
        "受理通知书",
        COMMISSION,
        ARBITRATION_NO,
        "张三：",
        f"你（单位）与{EMPLOYER}劳动报酬、经济补偿争议一案",
        "本委于2025年3月3日收到",
        "第二十九条",
        "本委于2025年3月6日决定受理",
        "本委已于2025年3月7日将仲裁申请书副本送达被申请人",
        "劳动报酬人民币18,000.00元",
        "经济补偿人民币9,000.50元",
        "仲裁员王五",
        "四十五日内",
    )
    assert texts[1].splitlines()[-1] == "2025年3月6日"
    assert texts[1].splitlines()[-2] == f"{COMMISSION}（印章）"


def test_the_non_acceptance_notice_gives_the_reason_and_the_right_to_sue(
    engine: Engine, templates: DocumentTemplates
) -> None:
    case = open_case(engine)
    engine.fire(case.id, "apply_arbitration", at=at(2025, 3, 3), data={"received_on": "2025-03-03"})
    engine.fire(
        case.id,
        "reject_arbitration",
        at=at(2025, 3, 5),
        data={"note": "申请人的请求不属于劳动人事争议处理范围。"},
    )
    ctx = context(engine, case, {"organisation": COMMISSION}, arbitration=ARBITRATION_NO)
    texts = both(templates, "non_acceptance_notice", ctx)
    assert_in_both(
        texts,
        "不予受理通知书",
        ARBITRATION_NO,
        "张三：",
        "你（单位）于2025年3月3日向本委提出的",
        "劳动报酬人民币18,000.00元",
        # The official's full stop is not doubled by the template's comma.
        "经审查，申请人的请求不属于劳动人事争议处理范围，不符合受理条件",
        "《中华人民共和国劳动争议调解仲裁法》第二十九条",
        "本委决定不予受理",
        "就该劳动争议事项向人民法院提起诉讼",
    )
    assert texts[1].splitlines()[-1] == "2025年3月5日"
    # LDMAL 29 sets no period within which to sue; none is printed unless a region sets one.
    assert "日内就该劳动争议事项" not in texts[1]
    with_period = context(engine, case, {"suit_days": "15"})
    _, text = both(templates, "non_acceptance_notice", with_period)
    assert "可以自收到本通知书之日起十五日内就该劳动争议事项向人民法院提起诉讼" in text


def test_the_arbitration_mediation_statement_after_a_failed_mediation(
    engine: Engine, templates: DocumentTemplates
) -> None:
    case = open_case(engine)
    engine.fire(
        case.id, "refer_to_peoples_mediation", at=at(2025, 3, 3), data={"org_id": MEDIATION_ORG}
    )
    engine.fire(case.id, "fail_mediation", at=at(2025, 3, 12), data={"reason": "no_agreement"})
    engine.fire(
        case.id, "apply_arbitration", at=at(2025, 3, 13), data={"received_on": "2025-03-13"}
    )
    engine.fire(case.id, "accept_arbitration", at=at(2025, 3, 17))
    engine.fire(case.id, "start_arbitration_mediation", at=at(2025, 3, 20))
    engine.fire(
        case.id, "issue_mediation_statement", at=at(2025, 3, 25), data={"perform_by": "2025-04-15"}
    )
    values = {
        "terms": "被申请人支付申请人劳动报酬15,000元\n申请人放弃其他请求",
        "arbitrators": ["王五", "赵六", "钱七"],
    }
    ctx = context(engine, case, values, peoples_mediation=MEDIATION_NO, arbitration=ARBITRATION_NO)
    texts = both(templates, "arbitration_mediation_statement", ctx)
    assert_in_both(
        texts,
        "调解书",
        ARBITRATION_NO,
        "申请人：张三",
        WORKER_ID,
        "本委于2025年3月17日受理",
        "劳动报酬人民币18,000.00元",
        "经济补偿人民币9,000.50元",
        "《中华人民共和国劳动争议调解仲裁法》第四十二条",
        "一、被申请人支付申请人劳动报酬15,000元；",
        "二、申请人放弃其他请求。",
        "应于2025年4月15日前履行完毕",
        "首席仲裁员：王五",
        "仲裁员：钱七",
        "2025年3月25日",
    )
    # The mediation committee handled the case before arbitration: it must not appear as the
    # issuer of the commission's statement, nor its number as the case number.
    for text in texts:
        assert MEDIATION_ORG not in text
        assert MEDIATION_NO not in text


def test_a_mediation_statement_on_a_reviewed_agreement_carries_the_review_number(
    engine: Engine, templates: DocumentTemplates
) -> None:
    case = open_case(engine)
    engine.fire(
        case.id, "refer_to_peoples_mediation", at=at(2025, 3, 3), data={"org_id": MEDIATION_ORG}
    )
    engine.fire(case.id, "sign_agreement", at=at(2025, 3, 10), data={"perform_by": "2025-03-31"})
    engine.fire(
        case.id,
        "apply_arbitration_review",
        at=at(2025, 3, 12),
        data={"by": "both", "accepted_on": "2025-03-12"},
    )
    engine.fire(
        case.id, "issue_mediation_statement", at=at(2025, 3, 18), data={"perform_by": "2025-03-31"}
    )
    review_no = "湘430102劳人仲审字〔2025〕第3号"
    ctx = context(engine, case, peoples_mediation=MEDIATION_NO, arbitration_review=review_no)
    texts = both(templates, "arbitration_mediation_statement", ctx)
    assert_in_both(
        texts,
        review_no,
        "于2025年3月10日经调解达成调解协议",
        "《劳动人事争议仲裁办案规则》第七十四条",
        "应于2025年3月31日前履行完毕",
    )
    assert texts[1].splitlines()[-2] == "2025年3月18日"
    for text in texts:
        assert MEDIATION_ORG not in text and MEDIATION_NO not in text


def test_the_service_receipt_records_what_was_served(
    engine: Engine, templates: DocumentTemplates
) -> None:
    case = arbitration_case(engine)
    values = {
        "organisation": COMMISSION,
        "document": f"受理通知书（{ARBITRATION_NO}）",
        "recipient": "张三",
        "address": "长沙市芙蓉区五一大道1号",
        "service_method": "直接送达",
        "served_at": "2025-03-08",
        "server": "李书记员",
    }
    texts = both(
        templates, "service_receipt", context(engine, case, values, arbitration=ARBITRATION_NO)
    )
    assert_in_both(
        texts,
        "送达回证",
        "劳动报酬、经济补偿争议",
        "长沙市芙蓉区五一大道1号",
        "直接送达",
        "2025年3月8日",
        "李书记员",
        "第二十条",
    )
    lines = texts[1].splitlines()
    # Table cells read in order, a merged cell once.
    at_document = lines.index("送达文书名称及文号")
    assert lines[at_document + 1 : at_document + 4] == [
        f"受理通知书（{ARBITRATION_NO}）",
        "受送达人",
        "张三",
    ]
    assert lines.count(ARBITRATION_NO) == 2  # the number line and the 案号 cell


@pytest.mark.parametrize("name", [t.name for t in TEMPLATES])
def test_every_template_renders_for_a_new_case_with_blanks_to_fill_in(
    engine: Engine, templates: DocumentTemplates, name: str
) -> None:
    case = open_case(engine)
    ctx = document_context(engine.get(case.id), engine.history(case.id), today=date(2025, 3, 3))
    html, text = both(templates, name, ctx)
    assert "______" in text
    assert "劳动报酬、经济补偿争议" in text and "劳动报酬、经济补偿争议" in html
    if name != "service_receipt":  # the receipt names the one recipient an official enters
        assert "张三" in text and "张三" in html
        assert "____年__月__日" in text
        assert "劳动报酬人民币18,000.00元" in text


def test_the_html_is_a_complete_page(engine: Engine, templates: DocumentTemplates) -> None:
    ctx = context(engine, agreement_case(engine))
    html = templates.render_html("mediation_agreement", ctx)
    assert html.startswith("<!doctype html>")
    for part in ('<html lang="zh-CN">', '<meta charset="utf-8">', "<title>调解协议书</title>"):
        assert part in html
    assert re.search(r"font-family:[^;]*仿宋", html)
    assert html.rstrip().endswith("</html>")


# --- the context --------------------------------------------------------------------------------


def test_the_context_collects_numbers_dates_and_parties(engine: Engine) -> None:
    case = agreement_case(engine)
    ctx = context(engine, case, peoples_mediation=MEDIATION_NO, arbitration=ARBITRATION_NO)
    assert ctx["numbers"] == {"peoples_mediation": MEDIATION_NO, "arbitration": ARBITRATION_NO}
    assert ctx["number"] == ARBITRATION_NO  # the most recent
    assert ctx["mediation_number"] == MEDIATION_NO
    assert [p["name"] for p in ctx["workers"]] == ["张三"]
    assert [p["name"] for p in ctx["respondents"]] == [EMPLOYER]
    assert ctx["workers"][0]["id_number"] == WORKER_ID
    assert [(c["label"], c["amount"]) for c in ctx["claims"]] == [
        ("劳动报酬", Decimal("18000.00")),
        ("经济补偿", Decimal("9000.50")),
    ]
    assert ctx["total_claimed"] == Decimal("27000.50")
    assert ctx["mediation_received_on"] == date(2025, 3, 3)
    assert ctx["mediation_accepted_on"] == date(2025, 3, 4)
    assert ctx["agreement_signed_on"] == date(2025, 3, 10)
    assert ctx["agreement_perform_by"] == date(2025, 3, 31)
    assert ctx["organisation"] == MEDIATION_ORG
    assert ctx["values"] == {} and ctx["terms"] == [] and ctx["arbitrators"] == []


def test_an_event_late_in_the_day_counts_on_its_day_in_china(engine: Engine) -> None:
    case = open_case(engine)
    # 00:30 on 4 March in Shanghai is still 3 March in UTC: the document says 4 March.
    engine.fire(
        case.id,
        "apply_arbitration",
        at=datetime(2025, 3, 4, 0, 30, tzinfo=SHANGHAI),
    )
    assert context(engine, case)["arbitration_received_on"] == date(2025, 3, 4)


def test_a_case_without_numbers_has_an_empty_number(engine: Engine) -> None:
    case = open_case(engine)
    ctx = context(engine, case)
    assert ctx["number"] == "" and ctx["numbers"] == {}


# --- overrides and errors -----------------------------------------------------------------------


def test_an_override_replaces_a_template(engine: Engine) -> None:
    source = (
        "<h1>调解协议书（芙蓉区）</h1>\n"
        '<p class="indent">{{ workers[0].name }}与{{ employers[0].name }}</p>'
    )
    templates = DocumentTemplates({"mediation_agreement": source})
    ctx = context(engine, agreement_case(engine))
    html, text = both(templates, "mediation_agreement", ctx)
    assert text.splitlines() == ["调解协议书（芙蓉区）", f"张三与{EMPLOYER}"]
    assert "第十四条" not in html
    assert templates.info("mediation_agreement").title == "调解协议书"


def test_an_override_can_extend_the_built_in_template_and_change_one_block(
    engine: Engine,
) -> None:
    source = (
        '{% extends "builtin:mediation_agreement" %}\n'
        '{% block terms %}<p class="indent">一、双方确认劳动关系已于2024年12月31日解除。</p>'
        "{% endblock %}"
    )
    templates = DocumentTemplates({"mediation_agreement": source})
    _, text = both(templates, "mediation_agreement", context(engine, agreement_case(engine)))
    assert "一、双方确认劳动关系已于2024年12月31日解除。" in text
    assert "第十四条" in text  # the rest of the built-in document is kept
    assert "____________________________________" not in text  # the blank terms are replaced


def test_an_added_template_takes_its_title_from_its_heading(engine: Engine) -> None:
    source = (
        "<h1>{% if organisation %}{{ organisation }}<br>{% endif %}调解建议书</h1>"
        "<p>{{ dispute }}</p>"
    )
    templates = DocumentTemplates(
        {"mediation_proposal": source, "plain_note": "<p>{{ serial }}</p>"}
    )
    assert templates.names() == [t.name for t in TEMPLATES] + ["mediation_proposal", "plain_note"]
    assert templates.info("mediation_proposal") == TemplateInfo(
        "mediation_proposal", "调解建议书", "调解建议书", "added by a plugin"
    )
    assert templates.info("plain_note").title == "plain_note"
    doc = templates.render(
        "mediation_proposal", context(engine, open_case(engine)), format="docx", case_id=1
    )
    assert doc.title == "调解建议书"
    assert docx_text(doc.content).splitlines() == ["调解建议书", "劳动报酬、经济补偿争议"]


def test_the_page_layout_can_be_replaced(engine: Engine) -> None:
    page = (
        '<!doctype html><html lang="zh-CN"><title>{{ title }}</title><body>{{ body }}</body></html>'
    )
    templates = DocumentTemplates({"_page": page})
    html = templates.render_html("service_receipt", context(engine, open_case(engine)))
    assert html.startswith('<!doctype html><html lang="zh-CN"><title>送达回证</title><body><h1>')
    assert "@page" not in html
    assert templates.names() == [t.name for t in TEMPLATES]


def test_an_unknown_template_lists_the_known_ones(
    engine: Engine, templates: DocumentTemplates
) -> None:
    with pytest.raises(DocumentError) as info:
        templates.render("payment_order", context(engine, open_case(engine)), case_id=1)
    assert info.value.template == "payment_order"
    message = str(info.value)
    for t in TEMPLATES:
        assert t.name in message
    # Helpers are not documents.
    with pytest.raises(DocumentError, match="unknown template"):
        templates.render_html("_page", {})
    with pytest.raises(DocumentError, match="unknown template"):
        templates.info("../../etc/passwd")


def test_an_undefined_variable_is_named(engine: Engine) -> None:
    templates = DocumentTemplates({"mediation_agreement": "<p>{{ arbitration_award_no }}</p>"})
    with pytest.raises(DocumentError) as info:
        templates.render_html("mediation_agreement", context(engine, open_case(engine)))
    message = str(info.value)
    assert "'arbitration_award_no' is undefined" in message
    assert "values" in message and "default" in message
    # A missing value is an error too, unless the template gives a fallback.
    strict = DocumentTemplates({"note": "<p>{{ values.recipient }}</p>"})
    with pytest.raises(DocumentError, match="recipient"):
        strict.render_html("note", context(engine, open_case(engine)))
    lenient = DocumentTemplates({"note": "<p>{{ values.recipient | default('张三') }}</p>"})
    assert "<p>张三</p>" in lenient.render_html("note", context(engine, open_case(engine)))


def test_a_bad_format_names_the_formats(engine: Engine, templates: DocumentTemplates) -> None:
    assert FORMATS == ("html", "docx")
    with pytest.raises(DocumentError, match="unsupported format 'pdf'; use one of html, docx"):
        templates.render(
            "service_receipt", context(engine, open_case(engine)), format="pdf", case_id=1
        )


def test_a_syntax_error_is_reported_when_the_templates_are_loaded() -> None:
    with pytest.raises(DocumentError) as info:
        DocumentTemplates({"mediation_agreement": "<p>\n{% if organisation %}\n<p>unclosed</p>"})
    assert info.value.template == "mediation_agreement"
    assert "syntax error" in str(info.value) and "line" in str(info.value)


def test_a_bad_override_name_or_source_is_refused() -> None:
    with pytest.raises(DocumentError, match="lower-case letters"):
        DocumentTemplates({"../escape": "<p>x</p>"})
    with pytest.raises(DocumentError, match="Jinja2 source text"):
        DocumentTemplates({"note": b"<p>x</p>"})  # type: ignore[dict-item]


def test_a_failing_filter_is_a_document_error(engine: Engine) -> None:
    templates = DocumentTemplates({"note": "<p>{{ values.day | zh_date }}</p>"})
    with pytest.raises(DocumentError, match="not an ISO date"):
        templates.render_html("note", context(engine, open_case(engine), {"day": "3月5日"}))


def test_a_template_cannot_reach_python_internals(engine: Engine) -> None:
    templates = DocumentTemplates({"note": "<p>{{ case.__class__.__mro__ }}</p>"})
    with pytest.raises(DocumentError):
        templates.render_html("note", context(engine, open_case(engine)))


def test_builtin_sources_are_shipped_with_the_package() -> None:
    for t in TEMPLATES:
        source = builtin_source(t.name)
        assert source is not None and "{%" in source
    assert builtin_source("nonexistent") is None
    assert builtin_source("../documents") is None


# --- escaping -----------------------------------------------------------------------------------


def test_markup_in_a_name_is_escaped_in_html_and_literal_in_docx(
    engine: Engine, templates: DocumentTemplates
) -> None:
    name = '<script>alert("x")</script>建筑公司'
    parties = [
        {"kind": "worker", "role": "applicant", "name": "张三", "id_number": WORKER_ID},
        {"kind": "employer", "role": "respondent", "name": name},
    ]
    case = open_case(engine, parties=parties)
    html, text = both(templates, "mediation_agreement", context(engine, case))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;建筑公司" in html
    assert f"被申请人：{name}" in text


# --- HTML to DOCX -------------------------------------------------------------------------------


def read(html: str, title: str = "测试") -> Any:
    return docx.Document(io.BytesIO(html_to_docx(html, title=title)))


def test_docx_pages_fonts_and_properties() -> None:
    document = read("<h1>调解协议书</h1><p>正文</p>", title="调解协议书")
    section = document.sections[0]
    # A4 (stored in twips, so read back to a fraction of a millimetre).
    assert abs(section.page_width.mm - 210) < 0.1 and abs(section.page_height.mm - 297) < 0.1
    normal = document.styles["Normal"]
    assert normal.font.size == Pt(16)
    fonts = normal.element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    heading, body = document.paragraphs
    assert heading.style.name == "Heading 1"
    assert heading.style.font.bold and heading.style.font.size == Pt(22)
    assert heading.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert body.text == "正文"
    assert document.core_properties.title == "调解协议书"


def test_docx_alignment_indent_and_inline_styles() -> None:
    html = (
        '<p class="right">右</p><p class="center">中</p><p class="indent">缩进</p>'
        '<p class="signature">签名</p><div class="right"><p>容器内</p>散文</div>'
        "<p>甲<strong>粗</strong><em>斜</em><u>下划线</u><b><i>粗斜</i></b>乙</p>"
    )
    paragraphs = read(html).paragraphs
    assert [p.text for p in paragraphs] == [
        "右", "中", "缩进", "签名", "容器内", "散文", "甲粗斜下划线粗斜乙"
    ]  # fmt: skip
    right, centre, indent, signature, inner, loose, styled = paragraphs
    assert right.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert centre.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert indent.paragraph_format.first_line_indent == Pt(32)
    assert signature.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert signature.paragraph_format.space_before == Pt(16)
    assert inner.alignment == loose.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    runs = {r.text: r for r in styled.runs}
    assert runs["粗"].bold and not runs["甲"].bold
    assert runs["斜"].italic and runs["下划线"].underline
    assert runs["粗斜"].bold and runs["粗斜"].italic


def test_docx_tables_with_header_cells_and_colspan() -> None:
    html = (
        "<table><thead><tr><th>项目</th><th>金额</th></tr></thead>"
        "<tbody><tr><td>劳动报酬</td><td class='right'>18,000.00</td></tr>"
        "<tr><td colspan='2'>合计 <b>18,000.00</b></td></tr></tbody></table><p>表后</p>"
    )
    document = read(html)
    (table,) = document.tables
    assert len(table.rows) == 3 and len(table.columns) == 2
    assert table.style.name == "Table Grid"
    header = table.rows[0].cells[0].paragraphs[0]
    assert header.runs[0].bold and header.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert table.cell(1, 1).paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    merged = table.rows[2].cells
    assert merged[0]._tc is merged[1]._tc
    assert docx_text(html_to_docx(html, title="t")).splitlines() == [
        "项目", "金额", "劳动报酬", "18,000.00", "合计 18,000.00", "表后"
    ]  # fmt: skip


def test_docx_lists_are_numbered_in_text() -> None:
    html = (
        "<ul><li>甲</li><li>乙<ol><li>一</li><li>二</li></ol></li></ul>"
        '<ol start="3"><li>丙</li></ol><ol class="zh"><li>丁</li><li>戊</li></ol>'
    )
    document = read(html)
    assert [p.text for p in document.paragraphs] == [
        "• 甲", "• 乙", "1. 一", "2. 二", "3. 丙", "一、丁", "二、戊"
    ]  # fmt: skip
    nested = document.paragraphs[2]
    assert nested.paragraph_format.left_indent == Pt(64)


def test_docx_keeps_the_text_of_unknown_tags_and_drops_invisible_parts() -> None:
    html = (
        "<!doctype html><html><head><title>标题</title><style>p{color:red}</style></head><body>"
        "<section>章节<blockquote>引文</blockquote></section>"
        "<p>前<x-seal>印章</x-seal><span class='a'>跨度</span><a href='#'>链接</a>&amp;后</p>"
        "<script>var x = 1;</script><custom-block><p>自定义块</p></custom-block>"
        "<p>第一行<br>第二行</p><p>  多个   空格\n 换行 </p><hr><p></p>"
        "<li>孤立项</li><table><tr><td>格</td></tr>表内散文</table>"
        "</body></html>"
    )
    lines = docx_text(html_to_docx(html, title="t")).splitlines()
    assert lines == [
        "章节",
        "引文",
        "前印章跨度链接&后",
        "自定义块",
        "第一行",
        "第二行",
        "多个 空格 换行",
        "",  # the rule
        "",  # the empty paragraph
        "• 孤立项",
        "格",
        "表内散文",
    ]
    assert "var x" not in "\n".join(lines) and "color" not in "\n".join(lines)


def test_docx_headings_and_unclosed_paragraphs() -> None:
    document = read("<h2>第一部分</h2><h3>（一）</h3><h5>小节</h5><p>一段<p>二段<div>块</div>")
    assert [(p.style.name, p.text) for p in document.paragraphs] == [
        ("Heading 2", "第一部分"),
        ("Heading 3", "（一）"),
        ("Heading 3", "小节"),
        ("Normal", "一段"),
        ("Normal", "二段"),
        ("Normal", "块"),
    ]


def test_the_same_html_gives_the_same_file(engine: Engine, templates: DocumentTemplates) -> None:
    ctx = context(engine, agreement_case(engine))
    first = templates.render("mediation_agreement", ctx, format="docx", case_id=7)
    second = templates.render("mediation_agreement", ctx, format="docx", case_id=7)
    assert first.content == second.content and first.sha256 == second.sha256
    assert re.fullmatch(r"[0-9a-f]{64}", first.sha256)


def test_a_document_knows_its_file_name_and_metadata(
    engine: Engine, templates: DocumentTemplates
) -> None:
    ctx = context(engine, agreement_case(engine))
    doc = templates.render("mediation_agreement", ctx, format="docx", case_id=12)
    assert isinstance(doc, Document)
    assert doc.filename == "case-12-mediation_agreement.docx"
    meta = doc.metadata()
    assert meta == {
        "template": "mediation_agreement",
        "title": "调解协议书",
        "format": "docx",
        "sha256": doc.sha256,
        "size": len(doc.content),
        "media_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "filename": "case-12-mediation_agreement.docx",
    }
    assert "content" not in repr(doc)


def test_docx_text_refuses_what_is_not_a_docx() -> None:
    with pytest.raises(DocumentError, match="not a DOCX file"):
        docx_text(b"<html></html>")


# --- filters ------------------------------------------------------------------------------------


def test_zh_date() -> None:
    assert zh_date(date(2025, 3, 1)) == "2025年3月1日"
    assert zh_date("2025-12-31") == "2025年12月31日"
    assert zh_date(datetime(2025, 3, 1, 23, 30, tzinfo=SHANGHAI)) == "2025年3月1日"
    assert zh_date(None) == zh_date("") == "____年__月__日"
    with pytest.raises(ValueError, match="not an ISO date"):
        zh_date("2025/03/01")


def test_yuan() -> None:
    assert yuan(Decimal("12345")) == "人民币12,345.00元"
    assert yuan(0) == "人民币0.00元"
    assert yuan("1001.005") == "人民币1,001.01元"  # half up to the fen
    assert yuan(Decimal("1234567.8")) == "人民币1,234,567.80元"
    assert yuan(None) == "人民币______元"
    with pytest.raises(ValueError, match="not an amount"):
        yuan("一万")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "零元整"),
        ("0.05", "伍分"),
        ("0.5", "伍角整"),
        ("0.55", "伍角伍分"),
        ("10", "壹拾元整"),
        ("16", "壹拾陆元整"),
        ("100", "壹佰元整"),
        ("12345", "壹万贰仟叁佰肆拾伍元整"),
        ("18000", "壹万捌仟元整"),
        ("100000", "壹拾万元整"),
        ("100010", "壹拾万零壹拾元整"),
        ("107000.53", "壹拾万零柒仟元零伍角叁分"),
        ("10.5", "壹拾元零伍角整"),
        ("10.05", "壹拾元零伍分"),
        ("1000000000001", "壹万亿零壹元整"),
        ("1001.05", "壹仟零壹元零伍分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
        ("1681.32", "壹仟陆佰捌拾壹元叁角贰分"),
        ("1010000", "壹佰零壹万元整"),
        ("100000000", "壹亿元整"),
        ("100001000", "壹亿零壹仟元整"),
        ("1000000000000", "壹万亿元整"),
        ("27000.50", "贰万柒仟元零伍角整"),
        ("0.004", "零元整"),
        ("0.005", "壹分"),
    ],
)
def test_zh_amount(amount: str, words: str) -> None:
    assert zh_amount(Decimal(amount)) == words


def test_zh_amount_refuses_negative_and_huge_amounts() -> None:
    with pytest.raises(ValueError, match="negative"):
        zh_amount(-1)
    with pytest.raises(ValueError, match="too large"):
        zh_amount(Decimal(10) ** 16)


_CAPITAL = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_PLACES = {"拾": 10, "佰": 100, "仟": 1000}


def decode_amount(words: str) -> Decimal:
    """An independent reading of capital numerals, for the round trip."""
    words = words.removesuffix("整")
    integer_part, sep, fraction = words.partition("元")
    if not sep:
        integer_part, fraction = "", words
    total = section = digit = 0
    for char in integer_part:
        if char in _CAPITAL:
            digit = _CAPITAL[char]
        elif char in _PLACES:
            section += digit * _PLACES[char]
            digit = 0
        elif char == "万":
            section = (section + digit) * 10**4
            digit = 0
        elif char == "亿":
            total += (section + digit) * 10**8
            section = digit = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {words!r}")
    fen = 0
    match = re.fullmatch(r"零?(?:(.)角)?(?:(.)分)?", fraction)
    assert match, words
    if match.group(1):
        fen += _CAPITAL[match.group(1)] * 10
    if match.group(2):
        fen += _CAPITAL[match.group(2)]
    return Decimal(total + section + digit) + Decimal(fen) / 100


@given(
    st.decimals(
        min_value=0,
        max_value=Decimal("9999999999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_zh_amount_reads_back_and_follows_the_rules(amount: Decimal) -> None:
    words = zh_amount(amount)
    assert decode_amount(words) == amount
    # One 零 for each run of zero digits that a non-zero digit follows.
    yuan_digits, _, fen_digits = f"{amount:.2f}".partition(".")
    digits = (yuan_digits if int(yuan_digits) else "") + fen_digits
    runs = len(re.findall(r"0+(?=[1-9])", digits.lstrip("0")))
    assert words.count("零") == (1 if amount == 0 else runs)
    assert words.endswith(("整", "分")) and not words.endswith("分整")
    assert "零零" not in words
    assert not re.search(r"零[元万亿角整]", words) or words == "零元整"
    assert words == "零元整" or not words.startswith("零")
    # 壹拾, never a bare 拾: every place unit follows a digit.
    assert not re.search(r"(^|[^零壹贰叁肆伍陆柒捌玖])[拾佰仟]", words)


def test_zh_number() -> None:
    cases = {
        1: "一", 10: "十", 12: "十二", 20: "二十", 21: "二十一", 105: "一百零五",
        110: "一百一十", 1001: "一千零一", 1010: "一千零一十", 9999: "九千九百九十九",
    }  # fmt: skip
    for number, words in cases.items():
        assert zh_number(number) == words
    for bad in (0, 10_000, -1):
        with pytest.raises(ValueError, match="1 to 9999"):
            zh_number(bad)


def test_the_built_in_templates_in_order() -> None:
    assert [(t.name, t.title) for t in TEMPLATES] == [
        ("mediation_agreement", "调解协议书"),
        ("acceptance_notice", "受理通知书"),
        ("non_acceptance_notice", "不予受理通知书"),
        ("arbitration_mediation_statement", "仲裁调解书"),
        ("service_receipt", "送达回证"),
    ]
    assert DocumentTemplates().names() == [t.name for t in TEMPLATES]
