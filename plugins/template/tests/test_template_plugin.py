"""The template plugin, driven through its community mediation point."""

from __future__ import annotations

import pytest
from mediation_flow_template import TemplatePlugin

from mediation_flow import IllegalTransition, InvalidIntake
from mediation_flow.testing import sample_intake

CHAOYANG = "110105"


def test_a_chaoyang_case_goes_through_the_community_point(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=CHAOYANG, attributes={"community": "望京"}))
    case = engine.fire(case.id, "refer_to_community_point", data={"org_id": "望京社区调解点"})
    assert case.state == "community_mediation"
    assert case.state_label == "社区调解点调解中"
    (target,) = engine.deadlines(case.id)
    # 3 working days after Mon 2025-03-03: Thu 03-06.
    assert (target.kind, str(target.due)) == ("community_target", "2025-03-06")
    engine.clock.set("2025-03-07", 0, 1)
    (reminder,) = engine.tick()
    assert reminder.trigger == "deadline_expired"
    case = engine.fire(case.id, "escalate_to_peoples_mediation", data={"org_id": "街道调委会"})
    assert case.state == "peoples_mediation"
    assert [e.trigger for e in engine.history(case.id)] == [
        "open_case",
        "refer_to_community_point",
        "deadline_expired",
        "escalate_to_peoples_mediation",
    ]


def test_an_agreement_at_the_community_point_opens_the_national_windows(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=CHAOYANG))
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
    assert engine.flow_for("430102").fingerprint != engine.flow_for(CHAOYANG).fingerprint


def test_the_community_attribute_must_be_text(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin())
    with pytest.raises(InvalidIntake, match=r"attributes\.community"):
        engine.open_case(sample_intake(region=CHAOYANG, attributes={"community": 7}))


def test_small_disputes_are_routed_to_the_community_point(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin())
    routes = engine.suggest_routes(
        sample_intake(region=CHAOYANG, claims=[{"kind": "wages", "amount": "3000"}])
    )
    assert [(r.trigger, r.plugin) for r in routes] == [
        ("refer_to_community_point", "template"),
        ("refer_to_negotiation", "national"),
    ]
    big = engine.suggest_routes(sample_intake(region=CHAOYANG))
    assert [r.trigger for r in big] == ["refer_to_negotiation"]


def test_mediation_stays_optional(mf_engine) -> None:
    engine = mf_engine(TemplatePlugin())
    case = engine.open_case(sample_intake(region=CHAOYANG))
    engine.fire(case.id, "refer_to_community_point")
    assert engine.fire(case.id, "apply_arbitration", data={"by": "worker"}).state == (
        "arbitration_received"
    )


def test_the_demo_shows_the_community_point(mf_engine) -> None:
    from mediation_flow.demo import run_demo

    engine = mf_engine(TemplatePlugin())
    result = run_demo(engine, cases=30, region=CHAOYANG)
    assert result.errors == []
    assert {"template_community_point", "template_escalated"} <= set(result.scenarios)
    assert result.resolved_at["社区调解点调解中"] > 0
