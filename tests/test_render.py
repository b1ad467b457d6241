"""Documents through the engine and the command line: who may render, what is recorded, a
plugin's template, the DOCX read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mediation_flow import (
    Actor,
    CaseNotFound,
    DocumentError,
    Engine,
    PermissionDenied,
    PluginError,
    Role,
    hookimpl,
)
from mediation_flow.cli import main
from mediation_flow.documents import docx_text
from tests.conftest import at, make_intake


def accepted_case(engine: Engine) -> int:
    case = engine.open_case(make_intake(), at=at(2025, 3, 3))
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 4))
    engine.fire(case.id, "accept_arbitration", at=at(2025, 3, 6))
    return case.id


def test_rendering_is_recorded_with_the_files_digest() -> None:
    with Engine("sqlite://", entry_points=False) as engine:
        case_id = accepted_case(engine)
        officer = Actor("arb-1", Role.arbitrator, org_id="长沙市劳动人事争议仲裁委员会")
        document = engine.render_document(
            case_id, "acceptance_notice", format="docx", actor=officer, at=at(2025, 3, 6, 10)
        )
        text = docx_text(document.content)
        assert "张三" in text and "长沙某建筑工程有限公司" in text
        assert "湘430102劳人仲案字〔2025〕第1号" in text
        # The issuing organisation defaults to the official's own.
        assert "长沙市劳动人事争议仲裁委员会" in text
        (row,) = engine.documents(case_id)
        assert (row["template"], row["format"], row["sha256"], row["actor_id"]) == (
            "acceptance_notice",
            "docx",
            document.sha256,
            "arb-1",
        )
        assert row["size"] == len(document.content) and row["case_version"] == 3


def test_parties_and_outsiders_may_not_render_documents() -> None:
    intake = make_intake()
    intake["parties"][0]["account"] = "w-1"
    with Engine("sqlite://", entry_points=False) as engine:
        case = engine.open_case(intake, at=at(2025, 3, 3))
        with pytest.raises(PermissionDenied):
            engine.render_document(case.id, "service_receipt", actor=Actor("w-1", Role.worker))
        with pytest.raises(CaseNotFound):  # outside the arbitrator's region: not found
            engine.render_document(
                case.id, "service_receipt", actor=Actor("arb-9", Role.arbitrator, region="51")
            )
        assert engine.documents(case.id) == []
        with pytest.raises(DocumentError, match="use one of html, docx"):
            engine.render_document(case.id, "service_receipt", format="pdf")
        with pytest.raises(DocumentError, match="mediation_agreement"):
            engine.render_document(case.id, "no_such_document")


class RegionalAgreement:
    name = "regional-agreement"
    regions = ("4301",)

    @hookimpl
    def document_templates(self, region: str) -> Any:
        return {
            "mediation_agreement": "<h1>长沙市劳动争议调解协议书</h1><p>{{ workers[0].name }}</p>",
            "mediation_proposal": "<h1>调解建议书</h1><p>{{ case.serial }}</p>",
        }


def test_a_plugin_replaces_and_adds_templates_for_its_regions() -> None:
    with Engine("sqlite://", entry_points=False, plugins=[RegionalAgreement()]) as engine:
        local = engine.open_case(make_intake(), at=at(2025, 3, 3))
        elsewhere = engine.open_case(make_intake(region="510304"), at=at(2025, 3, 3))
        assert "长沙市劳动争议调解协议书" in docx_text(
            engine.render_document(local.id, "mediation_agreement", format="docx").content
        )
        other = engine.render_document(elsewhere.id, "mediation_agreement").content
        assert "长沙市劳动争议调解协议书" not in other.decode("utf-8")
        names = [t.name for t in engine.document_templates("430102")]
        assert "mediation_proposal" in names
        assert "mediation_proposal" not in [t.name for t in engine.document_templates("510304")]


class BrokenTemplate:
    name = "broken-template"
    regions = ("43",)

    @hookimpl
    def document_templates(self, region: str) -> Any:
        return {"mediation_agreement": "<h1>{% if %}</h1>"}


def test_a_plugin_template_that_does_not_compile_is_refused_at_start_up() -> None:
    with Engine("sqlite://", entry_points=False, plugins=[BrokenTemplate()]) as engine:
        (info,) = engine.plugins
        assert "mediation_agreement" in (info.refused or "")
        with pytest.raises(PluginError, match="mediation_agreement"):
            engine.flow_for("430102")


def test_the_cli_lists_and_renders_documents(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with Engine(url, entry_points=False) as engine:
        case_id = accepted_case(engine)
    runner = CliRunner()
    listed = runner.invoke(main, ["--db", url, "doc", "list", "--region", "430102"])
    assert listed.exit_code == 0, listed.output
    assert "acceptance_notice\t受理通知书" in listed.output
    target = tmp_path / "notice.docx"
    rendered = runner.invoke(
        main,
        ["--db", url, "doc", "render", str(case_id), "service_receipt", "--format", "docx",
         "-o", str(target), "--value", "recipient=张三", "--value", "document=受理通知书"],
    )  # fmt: skip
    assert rendered.exit_code == 0, rendered.output
    text = docx_text(target.read_bytes())
    assert "送达回证" in text and "受理通知书" in text and "张三" in text
    unknown = runner.invoke(main, ["--db", url, "doc", "render", str(case_id), "nope"])
    assert unknown.exit_code == 1 and "mediation_agreement" in unknown.output
