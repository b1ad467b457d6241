"""The Zigong Da'an plugin: in-plant mediator -> park mediation station -> the national channels.

Dates are in 2025 (national schedule: Qingming holiday Fri 04-04 to Sun 04-06). A deadline's
``due`` is the last day on which the act is in time; ``tick`` just after midnight applies it.
"""

from __future__ import annotations

from typing import Any

import pytest
from mediation_flow_zigong_daan import DAAN, INPLANT, PARK_STATION, DaanPlugin
from structlog.testing import capture_logs

from mediation_flow import Channel, GuardFailed, IllegalTransition, InvalidIntake, Unit
from mediation_flow.demo import run_demo
from mediation_flow.testing import sample_intake

ZILIUJING = "510302"  # 自贡市自流井区: same city, no plugin
PARK = "西南智能终端产业园"
STATION = {"org_id": f"{PARK}劳动纠纷调解驿站"}
INPLANT_ORG = {"org_id": "某电子科技有限公司企业和事佬"}


def daan_intake(**attributes: Any) -> dict[str, Any]:
    base = {"park": PARK, "has_inplant_mediators": True, "industry": "electronics"}
    return sample_intake(region=DAAN, attributes={**base, **attributes})


def rows(engine: Any, case_id: int) -> list[tuple[str, str, str, str]]:
    """(kind, status, starts_on, due) of every deadline, in the order they were started."""
    return [
        (d.kind, str(d.status), str(d.starts_on), str(d.due)) for d in engine.deadlines(case_id)
    ]


def triggers(engine: Any, case_id: int) -> list[str]:
    return [e.trigger for e in engine.history(case_id)]


def test_the_chain_resolves_at_the_park_station(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")  # Monday
    case = engine.open_case(daan_intake())
    case = engine.fire(case.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    assert (case.state, case.state_label, case.channel) == (INPLANT, "厂区和事佬调解中", "union")
    # mediation_limit: 15 cd from the in-plant mediator's receipt, Mon 03-03 -> Tue 03-18 (a
    # working day, no roll-over). inplant_target: 3 wd after 03-03 -> Tue 04, Wed 05, Thu 06.
    assert rows(engine, case.id) == [
        ("mediation_limit", "pending", "2025-03-03", "2025-03-18"),
        ("inplant_target", "pending", "2025-03-03", "2025-03-06"),
    ]

    engine.clock.set("2025-03-06")
    engine.clock.end_of_day()
    assert engine.tick() == []  # the target's due day has not ended
    engine.clock.next_morning()  # Fri 03-07 00:01
    (overdue,) = engine.tick()
    assert (overdue.trigger, overdue.dest) == ("inplant_target_overdue", INPLANT)
    expired = overdue.data["expired_deadline"]
    assert (expired["kind"], expired["due"]) == ("inplant_target", "2025-03-06")

    engine.clock.set("2025-03-10")  # Monday: the in-plant mediator hands the case up
    case = engine.fire(case.id, "escalate_to_park_station", data=STATION)
    assert (case.state, case.state_label, case.channel) == (
        PARK_STATION,
        "园区调解驿站调解中",
        "administrative",
    )
    # A new organisation, a new LDMAL 14 clock: 15 cd from the station's receipt, Mon 03-10
    # -> Tue 03-25. The in-plant clock (still running to 03-18) is cancelled.
    assert rows(engine, case.id) == [
        ("mediation_limit", "cancelled", "2025-03-03", "2025-03-18"),
        ("inplant_target", "expired", "2025-03-03", "2025-03-06"),
        ("mediation_limit", "pending", "2025-03-10", "2025-03-25"),
    ]

    engine.clock.set("2025-03-20")
    case = engine.fire(
        case.id,
        "sign_agreement",
        data={"effective_on": "2025-03-20", "perform_by": "2025-04-10"},
    )
    assert case.state == "agreement_in_performance"
    # arbitration_review_window: 15 cd from Thu 03-20 -> Fri 04-04, Qingming holiday (04-04 to
    # 04-06) -> Mon 04-07. judicial_confirmation_window: 30 cd -> Sat 04-19 -> Mon 04-21.
    assert rows(engine, case.id)[2:] == [
        ("mediation_limit", "met", "2025-03-10", "2025-03-25"),
        ("arbitration_review_window", "pending", "2025-03-20", "2025-04-07"),
        ("judicial_confirmation_window", "pending", "2025-03-20", "2025-04-21"),
        ("agreement_performance", "pending", "2025-03-20", "2025-04-10"),
    ]
    assert [(e.trigger, e.source, e.dest) for e in engine.history(case.id)] == [
        ("open_case", "", "received"),
        ("refer_to_inplant_mediator", "received", INPLANT),
        ("inplant_target_overdue", INPLANT, INPLANT),
        ("escalate_to_park_station", INPLANT, PARK_STATION),
        ("sign_agreement", PARK_STATION, "agreement_in_performance"),
    ]
    # LDMAL 27 ¶2: the station's receipt interrupts limitation again (Mon 2025-03-10), and so
    # does the employer agreeing to perform, the agreement signed Thu 2025-03-20: one year on
    # is Fri 2026-03-20 (a working day).
    assert case.attributes["limitation_interruptions"][0] == "2025-03-03"
    assert case.attributes["limitation_interruptions"][-2:] == ["2025-03-10", "2025-03-20"]
    assert str(case.limitation_expires_on) == "2026-03-20"
    assert case.attributes["org_id"] == STATION["org_id"]


def test_the_park_station_hands_the_case_to_a_national_channel(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    case = engine.open_case(daan_intake())
    engine.fire(case.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    engine.clock.set("2025-03-04")
    engine.fire(case.id, "accept_mediation", data={"accepted_on": "2025-03-04"})
    engine.clock.set("2025-03-05")
    engine.fire(case.id, "escalate_to_park_station", data={**STATION, "received_on": "2025-03-05"})
    engine.clock.set("2025-03-12")
    case = engine.fire(
        case.id,
        "refer_to_peoples_mediation",
        data={"org_id": "大安区劳动人事争议人民调解委员会", "received_on": "2025-03-12"},
    )
    assert (case.state, case.channel) == ("peoples_mediation", "peoples")
    # One 15-cd clock per organisation, each from its own receipt:
    #   in-plant mediator Mon 03-03 -> Tue 03-18 (cancelled at the escalation),
    #   park station      Wed 03-05 -> Thu 03-20 (cancelled at the referral),
    #   people's med.     Wed 03-12 -> Thu 03-27.
    # inplant_target was met by accept_mediation on Tue 03-04 (due Thu 03-06).
    assert rows(engine, case.id) == [
        ("mediation_limit", "cancelled", "2025-03-03", "2025-03-18"),
        ("inplant_target", "met", "2025-03-03", "2025-03-06"),
        ("mediation_limit", "cancelled", "2025-03-05", "2025-03-20"),
        ("mediation_limit", "pending", "2025-03-12", "2025-03-27"),
    ]
    engine.clock.set("2025-03-27")
    engine.clock.end_of_day()
    assert engine.tick() == []
    engine.clock.next_morning()
    (failed,) = engine.tick()
    assert (failed.trigger, failed.source, failed.dest) == (
        "fail_mediation",
        "peoples_mediation",
        "mediation_failed",
    )
    assert failed.data["reason"] == "expired"
    engine.clock.set("2025-03-31")
    case = engine.fire(case.id, "apply_arbitration", data={"by": "worker"})
    assert case.state == "arbitration_received"
    assert triggers(engine, case.id) == [
        "open_case",
        "refer_to_inplant_mediator",
        "accept_mediation",
        "escalate_to_park_station",
        "refer_to_peoples_mediation",
        "fail_mediation",
        "apply_arbitration",
    ]
    assert [d.status for d in engine.deadlines(case.id) if d.kind == "mediation_limit"] == [
        "cancelled",
        "cancelled",
        "expired",
    ]


def test_after_the_inplant_clock_runs_out_the_station_may_take_the_case(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    case = engine.open_case(daan_intake())
    engine.fire(case.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    # No tick until Wed 03-19 00:01: both the target (due 03-06) and the in-plant 15 days (due
    # 03-18) have run out; tick applies them in due order.
    engine.clock.set("2025-03-19", 0, 1)
    events = engine.tick()
    assert [(e.trigger, e.dest) for e in events] == [
        ("inplant_target_overdue", INPLANT),
        ("fail_mediation", "mediation_failed"),
    ]
    engine.clock.set("2025-03-19")
    # A new application to the station (the park comes from intake): 15 cd from Wed 03-19 ->
    # Thu 04-03 (a working day; the Qingming holiday starts the day after).
    case = engine.fire(case.id, "refer_to_park_station", data=STATION)
    assert case.state == PARK_STATION
    assert rows(engine, case.id)[-1] == ("mediation_limit", "pending", "2025-03-19", "2025-04-03")

    # ENMP 29: both parties extend once by 15 cd, counted from the receipt: 30 cd from 03-19
    # -> Fri 04-18.
    engine.clock.set("2025-03-28")
    engine.fire(case.id, "extend_mediation", data={"by": "both", "days": 15})
    assert rows(engine, case.id)[-1] == ("mediation_limit", "pending", "2025-03-19", "2025-04-18")
    before = (engine.get(case.id).version, len(engine.history(case.id)), rows(engine, case.id))
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case.id, "extend_mediation", data={"by": "both", "days": 5})
    assert refused.value.guard == "once:mediation_extended"
    after = (engine.get(case.id).version, len(engine.history(case.id)), rows(engine, case.id))
    assert after == before


def test_a_new_organisation_may_extend_its_own_clock_once(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    case = engine.open_case(daan_intake())
    engine.fire(case.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    engine.fire(case.id, "extend_mediation", data={"by": "both", "days": 10})
    # 25 cd from Mon 03-03 -> Fri 03-28.
    assert rows(engine, case.id)[0] == ("mediation_limit", "pending", "2025-03-03", "2025-03-28")
    engine.clock.set("2025-03-07")
    engine.fire(case.id, "escalate_to_park_station", data=STATION)
    assert "mediation_extended" not in engine.get(case.id).attributes
    engine.fire(case.id, "extend_mediation", data={"by": "both"})
    # The station's clock: 30 cd (15 + 15) from Fri 03-07 -> Sun 04-06, inside the Qingming
    # holiday -> Mon 04-07.
    assert rows(engine, case.id)[-1] == ("mediation_limit", "pending", "2025-03-07", "2025-04-07")


def test_the_guards_refuse_and_write_nothing(mf_engine) -> None:
    # The national rules off: the same employer in every case would raise its own warning.
    engine = mf_engine(DaanPlugin(), at="2025-03-03", early_warning=())
    no_mediators = engine.open_case(daan_intake(has_inplant_mediators=False))
    with pytest.raises(GuardFailed) as refused:
        engine.fire(no_mediators.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    assert refused.value.guard == "zigong-daan.has_inplant_mediators"
    assert "企业和事佬" in refused.value.reason
    case = engine.get(no_mediators.id)
    assert (case.state, case.version) == ("received", 1)
    assert triggers(engine, case.id) == ["open_case"]
    assert engine.deadlines(case.id) == []

    # Not a park enterprise: the station refuses until the park is named.
    outside = engine.open_case(sample_intake(region=DAAN, attributes={"industry": "electronics"}))
    engine.fire(outside.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    before = (engine.get(outside.id).version, rows(engine, outside.id))
    with pytest.raises(GuardFailed) as refused:
        engine.fire(outside.id, "escalate_to_park_station", data=STATION)
    assert refused.value.guard == "zigong-daan.park_enterprise"
    assert (engine.get(outside.id).version, rows(engine, outside.id)) == before
    assert triggers(engine, outside.id) == ["open_case", "refer_to_inplant_mediator"]
    # The refusal depends on the command's data, so the trigger is still offered.
    assert "escalate_to_park_station" in engine.triggers(outside.id)
    case = engine.fire(outside.id, "escalate_to_park_station", data={**STATION, "park": PARK})
    assert (case.state, case.attributes["park"]) == (PARK_STATION, PARK)


def test_a_case_of_another_region_does_not_see_the_chain(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    case = engine.open_case(sample_intake(region=ZILIUJING, attributes={"park": PARK}))
    for trigger in ("refer_to_inplant_mediator", "refer_to_park_station"):
        with pytest.raises(IllegalTransition):
            engine.fire(case.id, trigger, data=STATION)
    assert triggers(engine, case.id) == ["open_case"]
    other, daan = engine.flow_for(ZILIUJING), engine.flow_for(DAAN)
    assert other.plugins == ()
    assert daan.plugins == ("zigong-daan",)
    assert INPLANT not in other.state_map
    assert {"refer_to_inplant_mediator", "escalate_to_park_station"}.isdisjoint(other.trigger_names)
    # Intake attributes of another region are not checked against Da'an's declarations.
    engine.open_case(sample_intake(region=ZILIUJING, attributes={"industry": "mining"}))


def test_mediation_stays_optional_at_both_levels(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    first = engine.open_case(daan_intake())
    engine.fire(first.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
    case = engine.fire(first.id, "apply_arbitration", data={"by": "worker"})
    assert case.state == "arbitration_received"
    # Leaving the in-plant step closes its clocks.
    assert [d.status for d in engine.deadlines(first.id)][:2] == ["cancelled", "cancelled"]

    second = engine.open_case(daan_intake(has_inplant_mediators=False))
    engine.fire(second.id, "refer_to_park_station", data=STATION)
    case = engine.fire(second.id, "withdraw", data={"by": "worker"})
    assert (case.state, case.resolution) == ("closed", "withdrawn")


def test_the_flow_additions_keep_the_statutory_floor(mf_engine) -> None:
    engine = mf_engine(DaanPlugin())
    flow, national = engine.flow_for(DAAN), engine.flow_for(ZILIUJING)
    limit, base = flow.deadline_map["mediation_limit"], national.deadline_map["mediation_limit"]
    assert (limit.unit, limit.length, limit.max_extension, limit.statutory, limit.expiry) == (
        base.unit,
        base.length,
        base.max_extension,
        True,
        ("fail_mediation",),
    )
    assert limit.alive_in == (*base.alive_in, INPLANT, PARK_STATION)
    target = flow.deadline_map["inplant_target"]
    assert (target.unit, target.length, target.statutory) == (Unit.working_days, 3, False)
    assert flow.state(INPLANT).channel == Channel.union
    assert flow.state(PARK_STATION).channel == Channel.administrative
    for state in (INPLANT, PARK_STATION):
        out = {t.trigger for t in flow.transitions_from(state)}
        assert {"apply_arbitration", "withdraw", "sign_agreement", "fail_mediation"} <= out
        assert {
            "refer_to_union_mediation",
            "refer_to_peoples_mediation",
            "refer_to_administrative_mediation",
        } <= out


def test_routes_follow_the_intake(mf_engine) -> None:
    engine = mf_engine(DaanPlugin())

    def first(**attributes: Any) -> tuple[str, str, dict[str, Any]]:
        route = engine.suggest_routes(sample_intake(region=DAAN, attributes=attributes))[0]
        return route.trigger, route.plugin, dict(route.data)

    assert first(has_inplant_mediators=True) == ("refer_to_inplant_mediator", "zigong-daan", {})
    assert first(park=PARK)[0] == "refer_to_inplant_mediator"  # a park enterprise: plant first
    assert first(park=PARK, has_inplant_mediators=False) == (
        "refer_to_park_station",
        "zigong-daan",
        {"park": PARK, "org_id": f"{PARK}劳动纠纷调解驿站"},
    )
    assert first(community="金桂社区") == (
        "refer_to_peoples_mediation",
        "zigong-daan",
        {"org_id": "金桂社区人民调解委员会"},
    )
    routes = engine.suggest_routes(sample_intake(region=DAAN))
    assert [r.trigger for r in routes] == ["refer_to_negotiation"]


def test_intake_attributes_are_checked(mf_engine) -> None:
    engine = mf_engine(DaanPlugin())
    with pytest.raises(InvalidIntake, match=r"attributes\.industry"):
        engine.open_case(daan_intake(industry="mining"))
    with pytest.raises(InvalidIntake, match=r"attributes\.has_inplant_mediators"):
        engine.open_case(daan_intake(has_inplant_mediators="yes"))
    case = engine.open_case(daan_intake(industry="construction"))
    assert case.attributes["intake"]["industry"] == "construction"


def test_backpack_arbitration_is_recorded_in_the_hearing(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    case = engine.open_case(daan_intake())
    engine.fire(case.id, "apply_arbitration", data={"by": "worker"})
    engine.fire(case.id, "accept_arbitration")
    award = [d for d in engine.deadlines(case.id) if d.kind == "award_limit"]
    engine.clock.set("2025-03-10")
    case = engine.fire(case.id, "arrange_on_site_hearing", data={"hearing_venue": PARK})
    assert (case.state, case.attributes["hearing_venue"]) == ("arbitration", PARK)
    # An internal step: the 45-day award limit (Mon 03-03 -> Thu 04-17) runs on untouched.
    assert [d for d in engine.deadlines(case.id) if d.kind == "award_limit"] == award
    assert str(award[0].due) == "2025-04-17"


def test_after_commit_notifies_the_station(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-03-03")
    with capture_logs() as logs:
        case = engine.open_case(daan_intake(industry="construction"))
        engine.fire(case.id, "refer_to_inplant_mediator", data=INPLANT_ORG)
        engine.fire(case.id, "escalate_to_park_station", data=STATION)
    ours = [e for e in logs if e["event"].startswith("daan_")]
    assert [(e["event"], e["log_level"]) for e in ours] == [("daan_park_station_referral", "info")]
    assert (ours[0]["park"], ours[0]["station"]) == (PARK, STATION["org_id"])


def test_construction_and_catering_disputes_raise_an_early_warning(mf_engine) -> None:
    # Seed 001 动态预警: the watched industries, in Da'an only (the national rules off, so that
    # the same employer in every case does not raise its own warning).
    engine = mf_engine(DaanPlugin(), at="2025-03-03", early_warning=())
    watched = engine.open_case(daan_intake(industry="catering"))
    alerts = [e for e in engine.history(watched.id) if e.trigger == "early_warning"]
    assert [a.data["rule"] for a in alerts] == ["industry_watch@510304"]
    quiet = engine.open_case(daan_intake(industry="electronics"))
    assert [e.trigger for e in engine.history(quiet.id)] == ["open_case"]
    elsewhere = engine.open_case(
        sample_intake(region="510302", attributes={"industry": "catering"})
    )
    assert [e.trigger for e in engine.history(elsewhere.id)] == ["open_case"]


def test_the_demo_scenarios_run(mf_engine) -> None:
    engine = mf_engine(DaanPlugin(), at="2025-01-06")
    result = run_demo(engine, cases=40, region=DAAN)
    assert result.errors == []
    names = set(DaanPlugin().demo_scenarios(DAAN))
    assert names == {
        "daan_park_station_resolved",
        "daan_park_station_to_national",
        "daan_inplant_expired_then_station",
    }
    assert names <= set(result.scenarios)
    assert result.channels["administrative"] >= 1  # the park station
