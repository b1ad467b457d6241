"""flow.md written out a second time, by hand, for the tests: how to reach each state, and every
legal (state, trigger) edge with its destination. The tests check the engine's flow definition
against this table, so a mistake in ``mediation_flow/flow/national.py`` shows up as a failure.
"""

from __future__ import annotations

from typing import Any

Step = tuple[str, dict[str, Any]]

SERVED = {"worker": "2025-03-03", "employer": "2025-03-03"}
FINAL_AWARD = {  # 18,000 <= 12 x 1,930: final (LDMAL 47)
    "items": [{"kind": "wages", "amount": "18000"}],
    "monthly_minimum_wage": "1930",
    "served_on": SERVED,
}
NONFINAL_AWARD = {  # 30,000 > 23,160: non-final
    "items": [{"kind": "wages", "amount": "30000"}],
    "monthly_minimum_wage": "1930",
    "served_on": SERVED,
}
MIXED_AWARD = {  # AR 50 ¶4: a final social-insurance item and a non-final wage item
    "items": [{"kind": "social_insurance"}, {"kind": "wages", "amount": "30000"}],
    "monthly_minimum_wage": "1930",
    "served_on": SERVED,
}

_NEG = [("refer_to_negotiation", {})]
_UNION = [("refer_to_union_mediation", {"org_id": "芙蓉区总工会", "org_type": "union_org"})]
_AGREEMENT = [
    *_UNION,
    ("sign_agreement", {"effective_on": "2025-03-03", "perform_by": "2025-03-20"}),
]
_ARB_RECEIVED = [("apply_arbitration", {"by": "worker"})]
_ARB = [*_ARB_RECEIVED, ("accept_arbitration", {})]
_FINAL = [*_ARB, ("issue_award", FINAL_AWARD)]
_NONFINAL = [*_ARB, ("issue_award", NONFINAL_AWARD)]
_LITIGATION = [*_NONFINAL, ("file_lawsuit", {"by": "worker"})]
_JUDGMENT = [*_LITIGATION, ("deliver_judgment", {"served_on": SERVED})]
_APPEAL = [*_JUDGMENT, ("file_appeal", {"by": "employer"})]
_ENFORCEABLE = [*_APPEAL, ("deliver_final_judgment", {})]

#: A legal path from `received` to every state of flow.md §2 (all on one day).
PATHS: dict[str, list[Step]] = {
    "received": [],
    "negotiation": _NEG,
    "settlement_in_performance": [*_NEG, ("sign_settlement", {"perform_by": "2025-03-31"})],
    "negotiation_failed": [*_NEG, ("fail_negotiation", {})],
    "settlement_breached": [
        *_NEG,
        ("sign_settlement", {"perform_by": "2025-03-31"}),
        ("report_breach", {}),
    ],
    "union_mediation": _UNION,
    "peoples_mediation": [("refer_to_peoples_mediation", {"org_id": "五里牌街道人民调解委员会"})],
    "administrative_mediation": [("refer_to_administrative_mediation", {"org_id": "区劳动保障站"})],
    "mediation_failed": [*_UNION, ("fail_mediation", {"reason": "no_agreement"})],
    "agreement_in_performance": _AGREEMENT,
    "agreement_breached": [*_AGREEMENT, ("report_breach", {})],
    "arbitration_review": [*_AGREEMENT, ("apply_arbitration_review", {"by": "both"})],
    "judicial_confirmation": [*_AGREEMENT, ("apply_judicial_confirmation", {"by": "both"})],
    "payment_order": [
        *_AGREEMENT,
        ("report_breach", {}),
        ("apply_payment_order", {"by": "worker"}),
    ],
    "arbitration_received": _ARB_RECEIVED,
    "arbitration_not_accepted": [*_ARB_RECEIVED, ("reject_arbitration", {})],
    "arbitration": _ARB,
    "arbitration_mediation": [*_ARB, ("start_arbitration_mediation", {"entrusted": True})],
    "arbitration_suspended": [*_ARB, ("suspend_arbitration", {})],
    "award_final": _FINAL,
    "award_nonfinal": _NONFINAL,
    "revocation_review": [*_FINAL, ("apply_revocation", {"by": "employer"})],
    "award_revoked": [
        *_FINAL,
        ("apply_revocation", {"by": "employer"}),
        ("revoke_award", {"served_on": SERVED}),
    ],
    "prefiling_mediation": [("refer_to_prefiling_mediation", {"org_id": "芙蓉区法院特邀调解组织"})],
    "litigation": _LITIGATION,
    "judicial_mediation": [*_LITIGATION, ("refer_to_judicial_mediation", {"procedure": "simple"})],
    "judgment": _JUDGMENT,
    "appeal": _APPEAL,
    "enforceable": _ENFORCEABLE,
    "enforcement": [*_ENFORCEABLE, ("apply_enforcement", {"by": "worker"})],
    "enforcement_refused": [
        *_ENFORCEABLE,
        ("apply_enforcement", {"by": "worker"}),
        ("refuse_enforcement", {"served_on": SERVED}),
    ],
    "payment_order_terminated": [
        *_AGREEMENT,
        ("report_breach", {}),
        ("apply_payment_order", {"by": "worker"}),
        ("terminate_payment_order", {"ruling_served_on": "2025-03-03"}),
    ],
    "closed": [("withdraw", {"by": "worker"})],
    "archived": [("withdraw", {"by": "worker"}), ("archive", {})],
}

MEDIATION = ("union_mediation", "peoples_mediation", "administrative_mediation")
_REFERRAL_BASE = (
    "received",
    "negotiation_failed",
    "settlement_breached",
    "mediation_failed",
    "arbitration_received",
)
NON_TERMINAL = tuple(s for s in PATHS if s not in ("closed", "archived"))
_LIMITATION_STATES = (
    "received",
    "negotiation",
    "settlement_in_performance",
    "negotiation_failed",
    "settlement_breached",
    *MEDIATION,
    "mediation_failed",
    "agreement_in_performance",
    "agreement_breached",
)

#: Every edge of flow.md §3 as (trigger, source, data, destination). Data is what that edge
#: needs from the path's state; destinations are flow.md's.
EDGES: list[tuple[str, str, dict[str, Any], str]] = [
    ("refer_to_negotiation", "received", {}, "negotiation"),
    ("accept_negotiation", "negotiation", {}, "negotiation"),
    ("sign_settlement", "negotiation", {"perform_by": "2025-03-31"}, "settlement_in_performance"),
    ("fail_negotiation", "negotiation", {}, "negotiation_failed"),
    *[
        ("confirm_performance", s, {}, "closed")
        for s in (
            "settlement_in_performance",
            "agreement_in_performance",
            "enforceable",
            "payment_order",
        )
    ],
    ("report_breach", "settlement_in_performance", {}, "settlement_breached"),
    ("report_breach", "agreement_in_performance", {}, "agreement_breached"),
    *[
        (
            "refer_to_union_mediation",
            s,
            {"org_id": "U", "org_type": "enterprise_committee"},
            "union_mediation",
        )
        for s in (*_REFERRAL_BASE, "peoples_mediation", "administrative_mediation")
    ],
    *[
        ("refer_to_peoples_mediation", s, {"org_id": "P"}, "peoples_mediation")
        for s in (*_REFERRAL_BASE, "union_mediation", "administrative_mediation")
    ],
    *[
        ("refer_to_administrative_mediation", s, {"org_id": "A"}, "administrative_mediation")
        for s in (*_REFERRAL_BASE, "union_mediation", "peoples_mediation")
    ],
    *[("accept_mediation", s, {}, s) for s in MEDIATION],
    *[("extend_mediation", s, {"by": "both"}, s) for s in MEDIATION],
    *[
        ("sign_agreement", s, {"effective_on": "2025-03-03"}, "agreement_in_performance")
        for s in (*MEDIATION, "prefiling_mediation")
    ],
    *[
        ("fail_mediation", s, {"reason": "refused"}, "mediation_failed")
        for s in (*MEDIATION, "prefiling_mediation")
    ],
    ("apply_arbitration_review", "agreement_in_performance", {"by": "both"}, "arbitration_review"),
    *[
        ("issue_mediation_statement", s, {}, "enforceable")
        for s in ("arbitration_review", "arbitration_mediation", "arbitration")
    ],
    ("refuse_review", "arbitration_review", {}, "agreement_in_performance"),
    (
        "apply_judicial_confirmation",
        "agreement_in_performance",
        {"by": "both"},
        "judicial_confirmation",
    ),
    ("confirm_agreement", "judicial_confirmation", {}, "enforceable"),
    ("reject_confirmation", "judicial_confirmation", {}, "mediation_failed"),
    ("apply_payment_order", "agreement_breached", {"by": "worker"}, "payment_order"),
    ("apply_payment_order", "received", {"by": "worker"}, "payment_order"),
    (
        "serve_payment_order",
        "payment_order",
        {"served_on": {"employer": "2025-03-03"}},
        "payment_order",
    ),
    # The order rested on a mediation agreement (PATHS["payment_order"]): to court (LDI-1 13).
    ("uphold_objection", "payment_order", {}, "litigation"),
    *[
        ("apply_arbitration", s, {"by": "worker"}, "arbitration_received")
        for s in (
            "received",
            "negotiation_failed",
            "settlement_breached",
            "mediation_failed",
            "agreement_breached",
            *MEDIATION,
            "arbitration_not_accepted",
        )
    ],
    ("request_supplement", "arbitration_received", {}, "arbitration_received"),
    ("supplement", "arbitration_received", {}, "arbitration_received"),
    ("accept_arbitration", "arbitration_received", {}, "arbitration"),
    ("reject_arbitration", "arbitration_received", {}, "arbitration_not_accepted"),
    ("start_arbitration_mediation", "arbitration", {"entrusted": True}, "arbitration_mediation"),
    ("fail_arbitration_mediation", "arbitration_mediation", {}, "arbitration"),
    ("extend_award_limit", "arbitration", {}, "arbitration"),
    ("extend_award_limit", "arbitration_mediation", {}, "arbitration_mediation"),
    ("suspend_arbitration", "arbitration", {}, "arbitration_suspended"),
    ("resume_arbitration", "arbitration_suspended", {}, "arbitration"),
    # AR 33, 36-38: procedural acts of the commission.
    (
        "serve_application_copy",
        "arbitration",
        {"respondent_served_on": "2025-03-03"},
        "arbitration",
    ),
    ("file_counterclaim", "arbitration", {"by": "employer"}, "arbitration"),
    ("reject_counterclaim", "arbitration", {}, "arbitration"),
    ("form_tribunal", "arbitration", {"arbitrators": 3}, "arbitration"),
    # AR 46: clock resets; AR 31: transfer; AR 39: deemed withdrawal; LDMAL 43 ¶2, 44.
    (
        "add_party",
        "arbitration",
        {"party_kind": "worker", "role": "applicant", "name": "李四"},
        "arbitration",
    ),
    (
        "change_claims",
        "arbitration",
        {"claims": [{"kind": "wages", "amount": "20000"}]},
        "arbitration",
    ),
    ("merge_counterclaim", "arbitration", {}, "arbitration"),
    ("serve_by_publication", "arbitration", {}, "arbitration"),
    ("transfer_jurisdiction", "arbitration_received", {"org_id": "C2"}, "arbitration_received"),
    ("transfer_jurisdiction", "arbitration", {"org_id": "C2"}, "arbitration"),
    ("deem_withdrawn", "arbitration", {}, "closed"),
    ("deem_withdrawn", "arbitration_mediation", {}, "closed"),
    (
        "issue_partial_award",
        "arbitration",
        {"items": [{"kind": "social_insurance"}], "served_on": SERVED},
        "arbitration",
    ),
    (
        "order_advance_execution",
        "arbitration",
        {"items": [{"kind": "wages", "amount": "5000"}]},
        "arbitration",
    ),
    ("serve_by_posting", "award_final", {"posted_on": {"worker": "2025-03-03"}}, "award_final"),
    (
        "serve_by_posting",
        "award_nonfinal",
        {"posted_on": {"employer": "2025-03-03"}},
        "award_nonfinal",
    ),
    ("issue_award", "arbitration", FINAL_AWARD, "award_final"),
    ("issue_award", "arbitration", NONFINAL_AWARD, "award_nonfinal"),
    ("issue_award", "arbitration", MIXED_AWARD, "award_nonfinal"),
    ("serve_award", "award_final", {"party": "worker", "served_on": "2025-03-03"}, "award_final"),
    ("serve_award", "award_nonfinal", {"served_on": {"employer": "2025-03-03"}}, "award_nonfinal"),
    ("file_lawsuit", "award_nonfinal", {"by": "employer"}, "litigation"),
    ("file_lawsuit", "award_final", {"by": "worker"}, "litigation"),
    ("file_lawsuit", "award_revoked", {"by": "employer"}, "litigation"),
    ("file_lawsuit", "arbitration_not_accepted", {"by": "worker"}, "litigation"),
    ("file_lawsuit", "agreement_breached", {"by": "worker"}, "litigation"),
    ("file_lawsuit", "received", {"by": "worker", "wage_iou": True}, "litigation"),
    ("apply_revocation", "award_final", {"by": "employer"}, "revocation_review"),
    ("revoke_award", "revocation_review", {}, "award_revoked"),
    ("dismiss_revocation", "revocation_review", {}, "enforceable"),
    ("refer_to_prefiling_mediation", "received", {"org_id": "C"}, "prefiling_mediation"),
    ("refer_to_judicial_mediation", "litigation", {"procedure": "ordinary"}, "judicial_mediation"),
    ("refer_to_judicial_mediation", "appeal", {"procedure": "simple"}, "judicial_mediation"),
    ("issue_court_mediation_statement", "judicial_mediation", {}, "enforceable"),
    ("fail_judicial_mediation", "judicial_mediation", {}, "litigation"),
    ("deliver_judgment", "litigation", {"served_on": SERVED}, "judgment"),
    ("file_appeal", "judgment", {"by": "worker"}, "appeal"),
    ("deliver_final_judgment", "appeal", {}, "enforceable"),
    # The suit followed a non-final award (PATHS["litigation"]): the award takes effect (I-2000).
    ("withdraw_lawsuit", "litigation", {"by": "worker"}, "enforceable"),
    ("apply_enforcement", "enforceable", {"by": "worker"}, "enforcement"),
    ("apply_enforcement", "award_final", {"by": "worker"}, "enforcement"),
    ("complete_enforcement", "enforcement", {}, "closed"),
    # LDI-1 24; CPL 228.
    ("refuse_enforcement", "enforcement", {"served_on": SERVED}, "enforcement_refused"),
    ("file_lawsuit", "enforcement_refused", {"by": "worker"}, "litigation"),
    (
        "terminate_payment_order",
        "payment_order",
        {"ruling_served_on": "2025-03-03"},
        "payment_order_terminated",
    ),
    ("refuse_litigation", "payment_order_terminated", {"by": "worker"}, "closed"),
    *[
        ("withdraw", s, {"by": "worker"}, "closed")
        for s in NON_TERMINAL
        if s not in ("enforceable", "enforcement")
    ],
    ("reject_out_of_scope", "received", {}, "closed"),
    # LDMAL 27 ¶3; AR 28: before arbitration, the limitation period may be suspended.
    *[("suspend_limitation", s, {"reason": "不可抗力"}, s) for s in _LIMITATION_STATES],
    ("archive", "closed", {}, "archived"),
]

#: Edges fired only by the engine on expiry (flow.md §3, last paragraph); they need their
#: windows to have expired, so the path tests exercise them in the tick tests instead.
#: Edges whose guard the path of PATHS to their source cannot satisfy (flow.md §3): the scenario
#: tests exercise them. The employer's petition against a separate final award needs split
#: awards (AR 50 ¶4); dismissing a suit applies to the worker's suit against a final award
#: (LDI-1 21 ¶2).
GUARDED_EDGES = {
    # The publication period ends only once it began (AR 46).
    ("publication_served", "arbitration"): "arbitration",
    # LDI-1 25: the employer's petition while the worker enforces a final award.
    ("apply_revocation", "enforcement"): "revocation_review",
    # The period runs on only once it was suspended (LDMAL 27 ¶3).
    **{("resume_limitation", s): s for s in _LIMITATION_STATES},
    # The hearing is notified at least 5 working days ahead (AR 38); PATHS runs on one day.
    ("schedule_hearing", "arbitration"): "arbitration",
    # A postponement is asked for once a hearing is scheduled (AR 38).
    ("request_postponement", "arbitration"): "arbitration",
    ("apply_revocation", "award_nonfinal"): "revocation_review",
    ("dismiss_lawsuit", "litigation"): "award_final",
}

AUTOMATIC_EDGES = {
    ("award_takes_effect", "award_nonfinal"): "enforceable",
    ("award_takes_effect", "award_final"): "enforceable",
    ("judgment_takes_effect", "judgment"): "enforceable",
    ("payment_order_takes_effect", "payment_order"): "enforceable",
    ("abandon", "award_revoked"): "closed",
    ("abandon", "enforcement_refused"): "closed",
    # The order rested on a mediation agreement (PATHS): to court (CPL 228; LDI-1 13 ¶3).
    ("proceed_after_payment_order", "payment_order_terminated"): "litigation",
    # file_lawsuit from arbitration needs award_limit to have expired (LDMAL 43).
    ("file_lawsuit", "arbitration"): "litigation",
}

ALL_TRIGGERS = sorted(
    {e[0] for e in EDGES} | {t for t, _ in AUTOMATIC_EDGES} | {t for t, _ in GUARDED_EDGES}
)


def legal_pairs() -> set[tuple[str, str]]:
    """Every (state, trigger) that flow.md allows."""
    return (
        {(src, trig) for trig, src, _, _ in EDGES}
        | {(src, trig) for trig, src in AUTOMATIC_EDGES}
        | {(src, trig) for trig, src in GUARDED_EDGES}
    )
