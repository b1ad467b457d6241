"""The template plugin, driven through its community mediation point."""

from __future__ import annotations

import pytest
from mediation_flow_template import REFERRALS, TemplatePlugin

from mediation_flow import GuardFailed, IllegalTransition, InvalidIntake
from mediation_flow.testing import check_plugin, sample_intake

REGION = "119901"  # fictional


def test_a_case_goes_through_the_community_point(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=REGION, attributes={"community": "望京"}))
    case = engine.fire(case.id, "refer_to_community_point", data={"org_id": "望京社区调解点"})
    assert case.state == "community_mediation"
    assert case.state_label == "社区调解点调解中"
    limit, target = engine.deadlines(case.id)
    # LDMAL 14: 15 cd from Mon 2025-03-03 is Tue 03-18; the target 3 working days: Thu 03-06.
    assert (limit.kind, str(limit.due)) == ("mediation_limit", "2025-03-18")
    assert (target.kind, str(target.due)) == ("community_target", "2025-03-06")
    engine.clock.set("2025-03-07", 0, 1)
    (reminder,) = engine.tick()
    assert reminder.trigger == "community_target_overdue"
    # A veto within the rules: escalation needs the point's note.
    with pytest.raises(GuardFailed, match="调解经过") as info:
        engine.fire(case.id, "escalate_to_peoples_mediation", data={"org_id": "街道调委会"})
    assert info.value.guard == "template:veto"
    case = engine.fire(
        case.id, "escalate_to_peoples_mediation", data={"org_id": "街道调委会", "note": "未果"}
    )
    assert case.state == "peoples_mediation"
    assert [e.trigger for e in engine.history(case.id)] == [
        "open_case",
        "refer_to_community_point",
        "community_target_overdue",
        "escalate_to_peoples_mediation",
    ]


def test_the_statutory_clock_runs_out_into_fail_mediation(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=REGION))
    engine.fire(case.id, "refer_to_community_point")
    engine.clock.set("2025-03-19", 0, 1)
    assert [e.trigger for e in engine.tick()] == ["community_target_overdue", "fail_mediation"]
    assert engine.get(case.id).state == "mediation_failed"


def test_the_referral_is_numbered_recorded_and_printed(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=REGION))
    case = engine.fire(case.id, "refer_to_community_point", data={"org_id": "望京社区调解点"})
    assert case.number("community_mediation") == "社调字〔2025〕第1号"
    with engine._store.engine.connect() as conn:
        rows = conn.execute(REFERRALS.select()).all()
    assert [(r.case_id, r.point, str(r.referred_on)) for r in rows] == [
        (case.id, "望京社区调解点", "2025-03-03")
    ]
    html = engine.render_document(case.id, "community_referral_slip", format="html")
    text = html.content.decode("utf-8")
    assert "望京社区调解点<br>转介单" in text
    assert "社调字〔2025〕第1号" in text
    assert "2025年3月3日转至望京社区调解点调解" in text


def test_an_employer_with_three_cases_is_warned_about(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    cases = [engine.open_case(sample_intake(region=REGION)) for _ in range(3)]
    alerts = [e for e in engine.history(cases[-1].id) if e.trigger == "early_warning"]
    assert "repeat_employer@119901" in str([a.data for a in alerts])


def test_the_template_passes_the_conformance_kit() -> None:
    check_plugin(TemplatePlugin(), regions=[REGION])


def test_an_agreement_at_the_community_point_opens_the_national_windows(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=REGION))
    engine.fire(case.id, "refer_to_community_point")
    case = engine.fire(case.id, "sign_agreement", data={"effective_on": "2025-03-03"})
    assert case.state == "agreement_in_performance"
    kinds = {d.kind: d for d in engine.deadlines(case.id)}
    assert str(kinds["arbitration_review_window"].due) == "2025-03-18"
    assert kinds["community_target"].status == "met"


def test_a_case_from_another_region_does_not_see_the_step(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region="430102"))
    with pytest.raises(IllegalTransition):
        engine.fire(case.id, "refer_to_community_point")
    assert engine.flow_for("430102").fingerprint != engine.flow_for(REGION).fingerprint


def test_the_community_attribute_must_be_text(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin())
    with pytest.raises(InvalidIntake, match=r"attributes\.community"):
        engine.open_case(sample_intake(region=REGION, attributes={"community": 7}))


def test_small_disputes_are_routed_to_the_community_point(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin())
    routes = engine.suggest_routes(
        sample_intake(region=REGION, claims=[{"kind": "wages", "amount": "3000"}])
    )
    assert [(r.trigger, r.plugin) for r in routes] == [
        ("refer_to_community_point", "template"),
        ("refer_to_negotiation", "national"),
    ]
    big = engine.suggest_routes(sample_intake(region=REGION))
    assert [r.trigger for r in big] == ["refer_to_negotiation"]


def test_mediation_stays_optional(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin())
    case = engine.open_case(sample_intake(region=REGION))
    engine.fire(case.id, "refer_to_community_point")
    assert engine.fire(case.id, "apply_arbitration", data={"by": "worker"}).state == (
        "arbitration_received"
    )


def test_the_demo_shows_the_community_point(mf_engine) -> None:
    from mediation_flow.demo import run_demo

    engine = mf_engine(TemplatePlugin())
    result = run_demo(engine, cases=30, region=REGION)
    assert result.errors == []
    assert {"template_community_point", "template_escalated"} <= set(result.scenarios)
    assert result.resolved_at["社区调解点调解中"] > 0
