"""The national five-mediation linkage, written as data from ``shared/domain/flow.md``.

Every id here is public API (flow.md is the contract). Citations use the abbreviations of
procedure.md §0.2. Deadline ops run in the order of
:mod:`mediation_flow.deadlines`: the transition's own ops, then deadlines not alive in the
destination state close, then the destination state's ``on_enter`` ops.
"""

from __future__ import annotations

from functools import cache

from mediation_flow.flow.definition import (
    DataField,
    DeadlineKind,
    DeadlineOp,
    FlowDefinition,
    StateDef,
    TransitionDef,
    Unit,
)
from mediation_flow.models import Channel, Resolution

__all__ = ["MEDIATION_STATES", "national_flow"]

MEDIATION_STATES = ("union_mediation", "peoples_mediation", "administrative_mediation")
AGREEMENT_STATES = ("agreement_in_performance", "arbitration_review", "judicial_confirmation")
ARBITRATION_HEARING = ("arbitration", "arbitration_mediation", "arbitration_suspended")

CD, WD = Unit.calendar_days, Unit.working_days


def _start(kind: str, start: str = "event", **kw: object) -> DeadlineOp:
    return DeadlineOp("start", kind, start, **kw)  # type: ignore[arg-type]


def _meet(kind: str) -> DeadlineOp:
    return DeadlineOp("meet", kind)


# fmt: off
# The tables below are laid out by hand, one entry per row of flow.md.

# --- deadline kinds (flow.md §4) ----------------------------------------------------------------

DEADLINE_KINDS = (
    DeadlineKind("negotiation_answer", "协商答复期限", "answer to a negotiation request",
                 CD, 5, ("negotiation",), "ENMP 10", expiry=("fail_negotiation",)),
    DeadlineKind("negotiation_period", "约定协商期限", "agreed negotiation period",
                 Unit.agreed_date, None, ("negotiation",), "ENMP 10",
                 expiry=("fail_negotiation",), statutory=False),
    DeadlineKind("settlement_performance", "和解协议履行期限", "settlement performance date",
                 Unit.agreed_date, None, ("settlement_in_performance",), "ENMP 12",
                 statutory=False),
    DeadlineKind("mediation_limit", "调解期限", "mediation time limit",
                 CD, 15, MEDIATION_STATES, "LDMAL 14; ENMP 29", max_extension=15,
                 expiry=("fail_mediation",), expiry_data=(("reason", "expired"),),
                 holder="official"),
    DeadlineKind("mediation_acceptance", "调解受理决定期限", "decision to accept mediation",
                 WD, 3, MEDIATION_STATES, "ENMP 22", holder="official"),
    DeadlineKind("agreement_performance", "调解协议履行期限", "agreement performance date",
                 Unit.agreed_date, None, AGREEMENT_STATES, "LDMAL 15", statutory=False),
    DeadlineKind("arbitration_review_window", "仲裁审查申请期限",
                 "window to apply for arbitration review", CD, 15, AGREEMENT_STATES, "AR 74"),
    DeadlineKind("judicial_confirmation_window", "司法确认申请期限",
                 "window to apply for judicial confirmation", CD, 30, AGREEMENT_STATES,
                 "CPL 205; PML 33"),
    DeadlineKind("review_examination", "仲裁审查期限", "arbitration review examination",
                 WD, 5, ("arbitration_review",), "AR 76", max_extension=5, holder="official"),
    DeadlineKind("confirmation_decision", "司法确认审查期限", "judicial confirmation decision",
                 CD, 15, ("judicial_confirmation",), "JC-2011 5", max_extension=10,
                 holder="official"),
    DeadlineKind("payment_order_objection", "支付令异议期限", "objection to a payment order",
                 CD, 15, ("payment_order",), "CPL 227", per_party=True,
                 expiry=("payment_order_takes_effect",)),
    DeadlineKind("arbitration_acceptance", "仲裁受理审查期限", "decision to accept arbitration",
                 WD, 5, ("arbitration_received",), "LDMAL 29; AR 80",
                 expiry=("reject_arbitration",), holder="official"),
    DeadlineKind("defence_due", "答辩期限", "respondent's defence", WD, 10, ARBITRATION_HEARING,
                 "LDMAL 30; AR 80"),
    # Procedural timers of the commission (AR 33, 36-38; "五日" are working days, AR 80). They
    # bind the commission, so their expiry is an overdue reminder, never a transition.
    DeadlineKind("application_copy_service", "送达申请书副本期限",
                 "serving the application copy on the respondent", WD, 5, ARBITRATION_HEARING,
                 "LDMAL 30; AR 33, 80",
                 holder="official"),
    DeadlineKind("counterclaim_decision", "反申请受理决定期限", "decision on a counterclaim",
                 WD, 5, ARBITRATION_HEARING, "AR 36, 80",
                 holder="official"),
    DeadlineKind("tribunal_notice", "组庭通知期限", "notice of the tribunal's members",
                 WD, 5, ARBITRATION_HEARING, "LDMAL 32; AR 37, 80",
                 holder="official"),
    DeadlineKind("collective_notice", "集体争议一次性通知期限",
                 "combined notice of tribunal, answer, evidence and hearing (collective case)",
                 WD, 5, ARBITRATION_HEARING, "AR 64, 80",
                 holder="official"),
    DeadlineKind("postponement_request", "申请延期开庭期限", "request to postpone the hearing",
                 Unit.agreed_date, None, ARBITRATION_HEARING, "LDMAL 35; AR 38, 80",
                 per_party=False),
    DeadlineKind("award_limit", "仲裁审理期限", "time limit for the award", CD, 45,
                 ARBITRATION_HEARING, "LDMAL 43", max_extension=15, expiry_event="award_overdue",
                 holder="official"),
    DeadlineKind("arbitration_mediation_limit", "仲裁委托调解期限",
                 "entrusted pre-hearing mediation", WD, 10, ("arbitration_mediation",),
                 "AR 70, 80", expiry=("fail_arbitration_mediation",), holder="official"),
    DeadlineKind("suit_window", "起诉期限", "window to sue", CD, 15,
                 ("award_final", "award_nonfinal", "award_revoked"), "LDMAL 48, 50, 49 ¶3",
                 per_party=True, expiry=("award_takes_effect", "abandon")),
    DeadlineKind("revocation_window", "申请撤销裁决期限", "window to petition for revocation",
                 CD, 30, ("award_final", "award_nonfinal", "enforcement"),
                 "LDMAL 49; LDI-1 21 ¶2, 25", per_party=True,
                 expiry=("award_takes_effect",)),
    DeadlineKind("prefiling_mediation_limit", "诉前调解期限", "court-delegated mediation",
                 CD, 30, ("prefiling_mediation",), "SMP 27", expiry=("fail_mediation",),
                 expiry_data=(("reason", "expired"),), holder="official"),
    DeadlineKind("judicial_mediation_limit", "委托调解期限", "court-entrusted mediation",
                 CD, 15, ("judicial_mediation",), "SMP 27",
                 expiry=("fail_judicial_mediation",), holder="official"),
    DeadlineKind("appeal_window", "上诉期限", "window to appeal", CD, 15, ("judgment",),
                 "CPL 171", per_party=True, expiry=("judgment_takes_effect",)),
    # A final award is in force from the day it is made (LDMAL 47): its window runs while the
    # worker's suit and the employer's revocation windows are still open.
    # LDI-1 24: after a ruling not to enforce an award, each party may sue within 30 days.
    DeadlineKind("nonenforcement_suit_window", "不予执行后起诉期限",
                 "window to sue after a non-enforcement ruling", CD, 30, ("enforcement_refused",),
                 "LDI-1 24", per_party=True, expiry=("abandon",)),
    # CPL 228: after the payment-order procedure ends, the applicant has 7 days to refuse
    # litigation; otherwise the case goes on in court (or in arbitration, LDI-1 13 ¶2).
    DeadlineKind("litigation_refusal_window", "不同意诉讼期限",
                 "window to refuse litigation after a payment order", CD, 7,
                 ("payment_order_terminated",), "CPL 228; CPL-I 438-439",
                 expiry=("proceed_after_payment_order",)),
    DeadlineKind("enforcement_window", "申请执行期限", "window to apply for enforcement",
                 Unit.years, 2, ("award_final", "revocation_review", "enforceable"),
                 "CPL 250; LDMAL 47"),
)

# --- states (flow.md §2) ------------------------------------------------------------------------

_MEDIATION_ENTRY = (
    # LDMAL 14 ¶3: the 15 days run from the organisation's receipt, not from acceptance.
    _start("mediation_limit", "received_on"),
    _start("mediation_acceptance", "received_on", when="org_is_enterprise_committee"),
)

#: Where a final award's enforcement window counts from (LDMAL 47; CPL 250; flow.md §4).
_AWARD_EFFECTIVE = "perform_by|made_on|case:award_effective_from"

STATES = (
    StateDef("received", "已登记（一站式受理）", "received at one-stop intake"),
    StateDef("negotiation", "协商中", "negotiating", on_enter=(
        _start("negotiation_answer"),
        _start("negotiation_period", "agreed_until"),
    )),
    StateDef("settlement_in_performance", "和解协议履行中", "settlement being performed",
             on_enter=(_start("settlement_performance", "perform_by"),)),
    StateDef("negotiation_failed", "协商不成", "negotiation failed"),
    StateDef("settlement_breached", "和解协议未履行", "settlement breached"),
    StateDef("union_mediation", "工会调解中", "in union mediation", Channel.union,
             on_enter=_MEDIATION_ENTRY),
    StateDef("peoples_mediation", "人民调解中", "in people's mediation", Channel.peoples,
             on_enter=_MEDIATION_ENTRY),
    StateDef("administrative_mediation", "行政调解中", "in administrative mediation",
             Channel.administrative, on_enter=_MEDIATION_ENTRY),
    StateDef("mediation_failed", "调解不成", "mediation failed"),
    StateDef("agreement_in_performance", "调解协议履行中", "mediation agreement being performed"),
    StateDef("agreement_breached", "调解协议未履行", "mediation agreement breached"),
    StateDef("arbitration_review", "调解协议仲裁审查中", "arbitration review of the agreement",
             Channel.arbitration, on_enter=(_start("review_examination", "accepted_on"),)),
    StateDef("judicial_confirmation", "司法确认审查中", "judicial confirmation under review",
             Channel.judicial, on_enter=(_start("confirmation_decision", "accepted_on"),)),
    StateDef("payment_order", "支付令程序中", "payment order proceedings", Channel.judicial,
             on_enter=(_start("payment_order_objection", "served_on", parties=("employer",)),)),
    StateDef("arbitration_received", "仲裁申请待受理", "arbitration application received",
             Channel.arbitration, on_enter=(_start("arbitration_acceptance", "received_on"),)),
    StateDef("arbitration_not_accepted", "仲裁不予受理/逾期未受理",
             "arbitration not accepted or no decision in time", Channel.arbitration),
    StateDef("arbitration", "仲裁审理中", "arbitration hearing", Channel.arbitration),
    StateDef("arbitration_mediation", "仲裁调解中", "arbitration mediation", Channel.arbitration,
             on_enter=(_start("arbitration_mediation_limit", when="entrusted"),)),
    StateDef("arbitration_suspended", "仲裁中止", "arbitration suspended", Channel.arbitration),
    StateDef("award_final", "终局裁决已作出", "final award issued", Channel.arbitration,
             on_enter=(
                 _start("suit_window", "served_on", parties=("worker",)),
                 _start("revocation_window", "served_on", parties=("employer",)),
                 # LDMAL 47; CPL 250: in force from the day it is made, so the 2 years run
                 # from its performance date, else from the award's date.
                 _start("enforcement_window", _AWARD_EFFECTIVE,
                        when="not enforcement_window_open"),
             )),
    StateDef("award_nonfinal", "非终局裁决已作出", "non-final award issued", Channel.arbitration,
             on_enter=(_start("suit_window", "served_on"),)),
    StateDef("revocation_review", "撤销终局裁决审查中（中级法院）",
             "revocation petition before the intermediate court", Channel.judicial),
    StateDef("award_revoked", "终局裁决已撤销", "final award revoked", Channel.judicial,
             on_enter=(_start("suit_window", "served_on"),)),
    StateDef("prefiling_mediation", "诉前调解（委派调解）中",
             "court-delegated pre-filing mediation", Channel.judicial,
             on_enter=(_start("prefiling_mediation_limit", "accepted_on"),)),
    StateDef("litigation", "诉讼审理中", "in litigation", Channel.judicial),
    StateDef("judicial_mediation", "司法调解中", "court-entrusted mediation", Channel.judicial,
             on_enter=(
                 _start("judicial_mediation_limit", when="procedure_simple", length=7),
                 _start("judicial_mediation_limit", when="not procedure_simple"),
             )),
    StateDef("judgment", "一审判决已送达", "first-instance judgment served", Channel.judicial,
             on_enter=(_start("appeal_window", "served_on"),)),
    StateDef("appeal", "二审中", "on appeal", Channel.judicial),
    StateDef("enforceable", "法律文书已生效", "enforceable instrument in force",
             on_enter=(_start("enforcement_window", "perform_by",
                              when="not enforcement_window_open"),)),
    StateDef("enforcement", "强制执行中", "in enforcement"),
    StateDef("enforcement_refused", "裁定不予执行", "enforcement refused by the court",
             Channel.judicial, on_enter=(_start("nonenforcement_suit_window", "served_on"),)),
    StateDef("payment_order_terminated", "督促程序终结", "payment-order procedure ended",
             Channel.judicial,
             on_enter=(_start("litigation_refusal_window", "ruling_served_on"),)),
    StateDef("closed", "已结案", "closed", terminal=True),
    StateDef("archived", "已归档", "archived", terminal=True),
)

NON_TERMINAL = tuple(s.id for s in STATES if not s.terminal)

# --- transitions (flow.md §3) -------------------------------------------------------------------

_REFERRAL_SOURCES = (
    "received", "negotiation_failed", "settlement_breached", "mediation_failed",
    "arbitration_received",
)
_REFERRAL_DATA = (
    DataField("org_id", "text", record=True),
    DataField("received_on", "date", record=True),
)
# Leaving one mediation for another closes the first organisation's clocks; the new
# organisation's clocks start on entry.
_REFERRAL_OPS = (DeadlineOp("cancel", "mediation_limit"),
                 DeadlineOp("cancel", "mediation_acceptance"))
_REFERRAL_EFFECTS = ("clear:mediation_extended,accepted_on",)

_APPLY_ARBITRATION_SOURCES = (
    "received", "negotiation_failed", "settlement_breached", "mediation_failed",
    "agreement_breached", *MEDIATION_STATES, "arbitration_not_accepted",
)

_SERVED = DataField("served_on", "party_dates")
#: Where the limitation period still matters: before an application for arbitration.
_LIMITATION_STATES = (
    "received", "negotiation", "settlement_in_performance", "negotiation_failed",
    "settlement_breached", *MEDIATION_STATES, "mediation_failed", "agreement_in_performance",
    "agreement_breached",
)
_AWARD_DATA = (
    DataField("items", "award_items", required=True),
    DataField("monthly_minimum_wage", "money", record=True),
    _SERVED,
    # LDMAL 47: a final award is in force from the day it is made (default: the event's day).
    DataField("made_on", "date"),
    DataField("perform_by", "date"),
)
_PARTY = DataField("party", "party")
_RULING_SERVED = DataField("ruling_served_on", "party_dates")
#: A party's filing against a window: posted before the window closed is in time (CPL 85 ¶4:
#: ``posted_on``, the postmark); filed late for good cause within 10 days of the obstacle's end
#: (CPL 86: ``obstacle_ended_on``).
_FILING = (DataField("posted_on", "date", record=True),
           DataField("obstacle_ended_on", "date", record=True))
#: AR 46: the 45 days start again from the event.
_AWARD_LIMIT_RESTART = (DeadlineOp("restart", "award_limit"),)
_BY_WORKER = "by:worker"


def T(trigger: str, sources: tuple[str, ...] | str, dest: str | None, zh: str, en: str,
      **kw: object) -> TransitionDef:
    """Shorthand for a :class:`TransitionDef`."""
    if isinstance(sources, str):
        sources = (sources,)
    return TransitionDef(trigger, sources, dest, zh, en, **kw)  # type: ignore[arg-type]


TRANSITIONS = (
    # Negotiation (ENMP 8-12).
    T("refer_to_negotiation", "received", "negotiation", "转入协商", "refer to negotiation",
      source="LDMAL 4; ENMP 8", data=(DataField("agreed_until", "date", record=True),)),
    T("accept_negotiation", "negotiation", None, "对方同意协商", "counterpart agrees to negotiate",
      source="ENMP 10", deadlines=(_meet("negotiation_answer"),)),
    T("sign_settlement", "negotiation", "settlement_in_performance", "签订和解协议",
      "sign a settlement", source="ENMP 11-12",
      data=(DataField("perform_by", "date", record=True),),
      # LDMAL 27 ¶2: the other side agreeing to perform interrupts the limitation period.
      interrupts_limitation=True,
      deadlines=(_meet("negotiation_answer"), _meet("negotiation_period"))),
    # ENMP 31: negotiation ending without agreement restarts the limitation period.
    T("fail_negotiation", "negotiation", "negotiation_failed", "协商不成", "negotiation fails",
      source="ENMP 10, 31", automatic=True, interrupts_limitation=True),
    T("confirm_performance", ("settlement_in_performance", "agreement_in_performance",
                              "enforceable", "payment_order"),
      "closed", "确认履行完毕", "confirm performance", resolution=Resolution.performed,
      deadlines=(_meet("settlement_performance"), _meet("agreement_performance"))),
    T("report_breach", "settlement_in_performance", "settlement_breached", "报告和解协议未履行",
      "report a breached settlement", source="ENMP 12, 31", interrupts_limitation=True),
    T("report_breach", "agreement_in_performance", "agreement_breached", "报告调解协议未履行",
      "report a breached agreement", source="LDMAL 15; ENMP 31", interrupts_limitation=True),

    # Mediation referrals (LDMAL 10, 14; PML; Op-71).
    T("refer_to_union_mediation", (*_REFERRAL_SOURCES, "peoples_mediation",
                                   "administrative_mediation"),
      "union_mediation", "转入工会调解", "refer to union mediation", source="LDMAL 10; TUL 29",
      interrupts_limitation=True,
      data=(*_REFERRAL_DATA, DataField("org_type", "union_org_type", record=True)),
      deadlines=_REFERRAL_OPS, effects=_REFERRAL_EFFECTS),
    T("refer_to_peoples_mediation", (*_REFERRAL_SOURCES, "union_mediation",
                                     "administrative_mediation"),
      "peoples_mediation", "转入人民调解", "refer to people's mediation",
      source="LDMAL 10(2); PML", interrupts_limitation=True, data=_REFERRAL_DATA,
      deadlines=_REFERRAL_OPS, effects=_REFERRAL_EFFECTS),
    T("refer_to_administrative_mediation", (*_REFERRAL_SOURCES, "union_mediation",
                                            "peoples_mediation"),
      "administrative_mediation", "转入行政调解", "refer to administrative mediation",
      source="LDMAL 10(3)", interrupts_limitation=True, data=_REFERRAL_DATA,
      deadlines=_REFERRAL_OPS, effects=_REFERRAL_EFFECTS),
    T("accept_mediation", MEDIATION_STATES, None, "受理调解", "accept the mediation",
      source="ENMP 22", data=(DataField("accepted_on", "date", record=True),),
      deadlines=(_meet("mediation_acceptance"),)),
    T("extend_mediation", MEDIATION_STATES, None, "延长调解期限", "extend mediation",
      source="ENMP 29; N-2024-4",
      guards=("both_parties_consent", "once:mediation_extended",
              "extension_at_most:mediation_limit"),
      data=(DataField("days", "days"),), deadlines=(DeadlineOp("extend", "mediation_limit"),),
      effects=("mark:mediation_extended",)),
    T("sign_agreement", (*MEDIATION_STATES, "prefiling_mediation"), "agreement_in_performance",
      "签订调解协议", "sign a mediation agreement", source="LDMAL 14, 27 ¶2; PML 28-33",
      interrupts_limitation=True,
      data=(DataField("effective_on", "date", record=True),
            DataField("perform_by", "date", record=True),
            DataField("confirms_labour_relationship", "bool", record=True)),
      deadlines=(
          _meet("mediation_limit"), _meet("prefiling_mediation_limit"),
          # AR 74; CPL 205: both windows run from the agreement's effective date.
          _start("arbitration_review_window", "effective_on"),
          _start("judicial_confirmation_window", "effective_on"),
          _start("agreement_performance", "perform_by"),
      )),
    T("fail_mediation", (*MEDIATION_STATES, "prefiling_mediation"), "mediation_failed",
      "调解不成", "mediation fails", source="LDMAL 14 ¶3; SMP 27; ENMP 31", automatic=True,
      interrupts_limitation=True,
      data=(DataField("reason", "failure_reason", record=True),)),

    # The agreement: arbitration review or judicial confirmation (alternatives, AR 75(5)).
    T("apply_arbitration_review", "agreement_in_performance", "arbitration_review",
      "申请仲裁审查", "apply for arbitration review", source="AR 74-75", party_act=True,
      guards=("joint_application", "within:arbitration_review_window",
              "not_judicially_confirmed", "agreement_not_on_labour_relationship"),
      data=(DataField("accepted_on", "date"),),
      deadlines=(_meet("arbitration_review_window"),)),
    T("issue_mediation_statement", ("arbitration_review", "arbitration_mediation", "arbitration"),
      "enforceable", "出具仲裁调解书", "issue the arbitration mediation statement",
      source="LDMAL 42; AR 72-73, 77", data=(DataField("perform_by", "date", record=True),),
      deadlines=(_meet("review_examination"), _meet("award_limit"))),
    T("refuse_review", "arbitration_review", "agreement_in_performance", "不予出具调解书",
      "refuse the review", source="AR 78",
      deadlines=(_meet("review_examination"),)),
    T("apply_judicial_confirmation", "agreement_in_performance", "judicial_confirmation",
      "申请司法确认", "apply for judicial confirmation", source="CPL 205; PML 33",
      party_act=True, guards=("joint_application", "within:judicial_confirmation_window"),
      data=(DataField("accepted_on", "date"),),
      deadlines=(_meet("judicial_confirmation_window"),)),
    T("confirm_agreement", "judicial_confirmation", "enforceable", "裁定确认调解协议有效",
      "confirm the agreement", source="CPL 206",
      data=(DataField("perform_by", "date", record=True),),
      deadlines=(_meet("confirmation_decision"),), effects=("mark:judicially_confirmed",)),
    T("reject_confirmation", "judicial_confirmation", "mediation_failed", "裁定驳回确认申请",
      "reject confirmation", source="CPL 206; CPL-I 358",
      deadlines=(_meet("confirmation_decision"),),
      effects=("set:reason,confirmation_rejected",)),

    # Payment orders (LDMAL 16; LCL 30; CPL 225-228; LDI-1 13).
    T("apply_payment_order", "agreement_breached", "payment_order", "申请支付令",
      "apply for a payment order", source="LDMAL 16", party_act=True,
      interrupts_limitation=True, data=(_SERVED,),
      guards=(_BY_WORKER,
              "claims_only:wages,work_injury_medical,economic_compensation,damages"),
      effects=("record_payment_order_basis",)),
    T("apply_payment_order", "received", "payment_order", "申请支付令（拖欠劳动报酬）",
      "apply for a payment order (wage arrears)", source="LCL 30", party_act=True,
      interrupts_limitation=True, data=(_SERVED,), guards=(_BY_WORKER, "claims_only:wages"),
      effects=("record_payment_order_basis",)),
    T("serve_payment_order", "payment_order", None, "送达支付令", "serve the payment order",
      source="CPL 227", data=(DataField("served_on", "party_dates", required=True),),
      deadlines=(_start("payment_order_objection", "served_on", parties=("employer",)),)),
    T("uphold_objection", "payment_order", "litigation", "异议成立（转诉讼）",
      "uphold the objection (to court)", source="LDI-1 13 ¶3",
      when="order_rests_on_agreement", deadlines=(_meet("payment_order_objection"),)),
    T("uphold_objection", "payment_order", "arbitration_received", "异议成立（转仲裁）",
      "uphold the objection (to arbitration)", source="LDI-1 13 ¶2",
      data=(DataField("received_on", "date"),),
      deadlines=(_meet("payment_order_objection"),)),
    T("payment_order_takes_effect", "payment_order", "enforceable", "支付令生效",
      "payment order takes effect", source="CPL 227", automatic=True,
      guards=("windows_expired:payment_order_objection@employer",)),

    # Arbitration (LDMAL 27-47; AR).
    T("apply_arbitration", _APPLY_ARBITRATION_SOURCES, "arbitration_received", "申请仲裁",
      "apply for arbitration", source="LDMAL 5, 28-29", party_act=True,
      interrupts_limitation=True, warnings=("limitation_expired",),
      data=(DataField("received_on", "date", record=True),)),
    T("request_supplement", "arbitration_received", None, "通知补正", "request a supplement",
      source="AR 29, 46", data=(DataField("items", "text", record=False),),
      # AR 29: an incomplete file has no acceptance clock until it is completed.
      deadlines=(DeadlineOp("pause", "arbitration_acceptance"),)),
    T("supplement", "arbitration_received", None, "补正材料", "supplement the application",
      source="AR 29, 46",
      # AR 46(2): the receipt date is reset to the date the file is completed.
      deadlines=(DeadlineOp("restart", "arbitration_acceptance"),)),
    T("accept_arbitration", "arbitration_received", "arbitration", "受理仲裁申请",
      "accept the arbitration", source="LDMAL 29; AR 30",
      data=(DataField("respondent_served_on", "date", record=True),
            DataField("procedural_timers", "bool", record=True)),
      deadlines=(
          _meet("arbitration_acceptance"),
          # LDMAL 43: the 45 days run from acceptance.
          _start("award_limit"),
          _start("defence_due", "respondent_served_on"),
          # LDMAL 30; AR 33: the copy is served within 5 wd, unless it already was; LDMAL 32;
          # AR 37: the tribunal's members are notified within 5 wd. Kept for collective cases
          # and when the acceptance asks for them (procedural_timers).
          _start("application_copy_service", when="tracks_copy_service"),
          _start("tribunal_notice", when="tracks_procedure"),
          # AR 64: a collective case gets one combined notice within 5 wd of acceptance.
          _start("collective_notice", when="collective"),
      )),
    T("reject_arbitration", "arbitration_received", "arbitration_not_accepted",
      "不予受理", "refuse to accept", source="LDMAL 29; AR 31", automatic=True,
      deadlines=(_meet("arbitration_acceptance"),)),
    T("start_arbitration_mediation", "arbitration", "arbitration_mediation", "开始仲裁调解",
      "start arbitration mediation", source="LDMAL 42; AR 68-70",
      data=(DataField("entrusted", "bool", record=True),)),
    T("fail_arbitration_mediation", "arbitration_mediation", "arbitration", "仲裁调解不成",
      "arbitration mediation fails", source="AR 70", automatic=True),
    T("extend_award_limit", ("arbitration", "arbitration_mediation"), None, "延长审理期限",
      "extend the award limit", source="LDMAL 43",
      guards=("once:award_limit_extended", "extension_at_most:award_limit"),
      data=(DataField("days", "days"),), deadlines=(DeadlineOp("extend", "award_limit"),),
      effects=("mark:award_limit_extended",)),
    T("suspend_arbitration", "arbitration", "arbitration_suspended", "仲裁中止",
      "suspend the arbitration", source="AR 47",
      data=(DataField("reason", "text", record=True),),
      deadlines=(DeadlineOp("pause", "award_limit"),)),
    T("resume_arbitration", "arbitration_suspended", "arbitration", "恢复仲裁",
      "resume the arbitration", source="AR 46(6), 47",
      deadlines=(DeadlineOp("resume", "award_limit"),)),
    # Procedural acts of the commission (AR 33, 36-38).
    T("serve_application_copy", "arbitration", None, "送达仲裁申请书副本",
      "serve the application copy", source="LDMAL 30; AR 33",
      data=(DataField("respondent_served_on", "date", record=True),),
      deadlines=(_meet("application_copy_service"),
                 DeadlineOp("restart", "defence_due", "respondent_served_on"))),
    T("file_counterclaim", "arbitration", None, "提出反申请", "file a counterclaim",
      source="AR 36", party_act=True, data=(DataField("received_on", "date", record=True),),
      deadlines=(_start("counterclaim_decision", "received_on"),)),
    T("reject_counterclaim", "arbitration", None, "反申请不予受理", "refuse the counterclaim",
      source="AR 36", deadlines=(_meet("counterclaim_decision"),)),
    # LDMAL 31; AR 62-67: a collective case is heard by three arbitrators.
    T("form_tribunal", "arbitration", None, "组成仲裁庭", "form the tribunal",
      source="LDMAL 31-32; AR 37, 64-65", guards=("tribunal_size",),
      data=(DataField("arbitrators", "count", required=True, record=True),),
      deadlines=(_meet("tribunal_notice"),)),
    # LDMAL 35; AR 38: the hearing is notified at least 5 wd before it; a party may ask to
    # postpone it up to 3 wd before.
    T("schedule_hearing", "arbitration", None, "通知开庭", "notify the hearing",
      source="LDMAL 35; AR 38, 64", guards=("hearing_notice_in_time",),
      data=(DataField("hearing_on", "date", required=True, record=True),),
      deadlines=(_meet("collective_notice"),
                 _start("postponement_request", "hearing_on-3wd"))),
    T("request_postponement", "arbitration", None, "申请延期开庭", "ask to postpone the hearing",
      source="LDMAL 35; AR 38", party_act=True, guards=("within:postponement_request",),
      deadlines=(_meet("postponement_request"),)),
    # AR 46: the award limit restarts from the day a party is added, the claims are changed, a
    # counterclaim is merged or the case is transferred in; a new limit may be extended once.
    T("add_party", "arbitration", None, "追加当事人", "add a party", source="AR 46(1)",
      data=(DataField("party_kind", "party_kind", required=True),
            DataField("role", "party_role", required=True),
            DataField("name", "text", required=True)),
      deadlines=_AWARD_LIMIT_RESTART,
      effects=("record_added_party", "clear:award_limit_extended")),
    T("change_claims", "arbitration", None, "变更仲裁请求", "change the claims",
      source="AR 46(3)", data=(DataField("claims", "claim_items", required=True),),
      deadlines=_AWARD_LIMIT_RESTART,
      effects=("record_claim_change", "clear:award_limit_extended")),
    T("merge_counterclaim", "arbitration", None, "合并审理反申请", "merge a counterclaim",
      source="AR 36, 46(4)", data=(DataField("claims", "claim_items"),),
      deadlines=(_meet("counterclaim_decision"), *_AWARD_LIMIT_RESTART),
      effects=("record_counterclaim", "clear:award_limit_extended")),
    # AR 46: the period of service by publication (公告送达) is not counted in the award limit.
    T("serve_by_publication", "arbitration", None, "公告送达", "serve by publication",
      source="AR 20, 46", guards=("once:publication_pending",),
      deadlines=(DeadlineOp("pause", "award_limit"),), effects=("mark:publication_pending",)),
    T("publication_served", "arbitration", None, "公告期满", "the publication period ends",
      source="AR 20, 46", guards=("marked:publication_pending",),
      deadlines=(DeadlineOp("resume", "award_limit"),),
      effects=("clear:publication_pending",)),
    # AR 31; AR 46(5): a commission without jurisdiction transfers the case to the competent one
    # (not a refusal); the clock restarts from that commission's receipt.
    T("transfer_jurisdiction", "arbitration_received", None, "移送管辖", "transfer the case",
      source="AR 31; AR 46(5); LDI-1 5",
      data=(DataField("org_id", "text", required=True, record=True),
            DataField("received_on", "date")),
      deadlines=(DeadlineOp("restart", "arbitration_acceptance", "received_on"),),
      effects=("record_transfer",)),
    T("transfer_jurisdiction", "arbitration", None, "移送管辖", "transfer the case",
      source="AR 46(5)",
      data=(DataField("org_id", "text", required=True, record=True),
            DataField("received_on", "date")),
      deadlines=(DeadlineOp("restart", "award_limit", "received_on"),),
      effects=("record_transfer", "clear:award_limit_extended")),
    # AR 39: the applicant does not appear without good reason: the application is deemed
    # withdrawn, and the same claim on the same facts cannot be brought again (unlike AR 35).
    T("deem_withdrawn", ("arbitration", "arbitration_mediation"), "closed", "按撤回仲裁申请处理",
      "the application is deemed withdrawn", source="AR 39; LDMAL 36",
      resolution=Resolution.withdrawn,
      data=(DataField("reason", "text", record=True),),
      effects=("record_deemed_withdrawal",)),
    # LDMAL 43 ¶2; AR 49: a partial award on the facts already clear; the award limit runs on.
    T("issue_partial_award", "arbitration", None, "先行裁决", "issue a partial award",
      source="LDMAL 43 ¶2; AR 49",
      data=(DataField("items", "award_items", required=True),
            DataField("monthly_minimum_wage", "money"), _SERVED),
      effects=("record_partial_award",)),
    # LDMAL 44; AR 51: advance execution on remuneration, medical costs and compensation,
    # transferred to the court for enforcement; the worker gives no security.
    T("order_advance_execution", "arbitration", None, "裁决先予执行", "order advance execution",
      source="LDMAL 44; AR 51; LDI-1 10",
      guards=("claims_include:wages,work_injury_medical,economic_compensation,damages",
              "items_only:wages,work_injury_medical,economic_compensation,damages"),
      data=(DataField("items", "award_items", required=True),),
      effects=("record_advance_execution",)),
    T("issue_award", "arbitration", "award_final", "作出终局裁决", "issue a final award",
      source="LDMAL 47; AR 50", when="award_is_final", data=_AWARD_DATA,
      deadlines=(_meet("award_limit"),), effects=("record_award",)),
    # Listed before the split awards, so that flow.find("issue_award", "arbitration",
    # "award_nonfinal") still gives the plain non-final award to plugins that copy it.
    T("issue_award", "arbitration", "award_nonfinal", "作出非终局裁决", "issue a non-final award",
      source="LDMAL 50", when="not award_is_mixed", data=_AWARD_DATA,
      deadlines=(_meet("award_limit"),), effects=("record_award",)),
    # AR 50 ¶4: final and non-final items are awarded in separate documents. The case follows
    # the non-final award; the final award's own remedy, the employer's revocation petition
    # (LDMAL 49), runs beside it.
    T("issue_award", "arbitration", "award_nonfinal", "分别作出终局裁决和非终局裁决",
      "issue separate final and non-final awards", source="AR 50 ¶4; LDMAL 47, 49, 50",
      when="award_is_mixed", data=_AWARD_DATA,
      deadlines=(_meet("award_limit"),
                 _start("revocation_window", "served_on", parties=("employer",))),
      effects=("record_award",)),
    T("serve_award", "award_final", None, "送达裁决书", "serve the award", source="AR 20",
      data=(_PARTY, DataField("served_on", "party_dates", required=True)),
      deadlines=(_start("suit_window", "served_on", parties=("worker",)),
                 _start("revocation_window", "served_on", parties=("employer",)))),
    T("serve_award", "award_nonfinal", None, "送达裁决书", "serve the award", source="AR 20",
      data=(_PARTY, DataField("served_on", "party_dates", required=True)),
      deadlines=(_start("suit_window", "served_on"),
                 # AR 50 ¶4: the employer's revocation window on a separate final award.
                 _start("revocation_window", "served_on", parties=("employer",),
                        when="split_award"))),
    # LDI-1 17: with several workers, the award takes effect for those who did not sue, each on
    # their own date (recorded in award_effective_on); the case goes on in court for the others.
    # AR 20 ¶2: a document posted at the workplace (a collective case, a closed enterprise, a
    # refusal to sign) is deemed served 3 working days after posting (AR 80).
    T("serve_by_posting", "award_final", None, "公告送达（张贴）", "serve by posting",
      source="AR 20 ¶2, 80", data=(DataField("posted_on", "party_dates", required=True),),
      deadlines=(_start("suit_window", "posted_on+3wd", parties=("worker",)),
                 _start("revocation_window", "posted_on+3wd", parties=("employer",)))),
    T("serve_by_posting", "award_nonfinal", None, "公告送达（张贴）", "serve by posting",
      source="AR 20 ¶2, 80", data=(DataField("posted_on", "party_dates", required=True),),
      deadlines=(_start("suit_window", "posted_on+3wd"),
                 _start("revocation_window", "posted_on+3wd", parties=("employer",),
                        when="split_award"))),
    T("award_takes_effect", "award_nonfinal", "litigation", "裁决对未起诉劳动者生效",
      "the award takes effect for the workers who did not sue", source="LDI-1 17; LDMAL 50",
      automatic=True, when="some_worker_sued",
      guards=("windows_expired:suit_window@worker,suit_window@employer,"
              "revocation_window@employer?",),
      effects=("record_award_effect",)),
    T("award_takes_effect", "award_final", "litigation", "裁决对未起诉劳动者生效",
      "the award takes effect for the workers who did not sue", source="LDI-1 17; LDMAL 47-48",
      automatic=True, when="some_worker_sued",
      guards=("windows_expired:suit_window@worker,revocation_window@employer",),
      effects=("record_award_effect",)),
    T("award_takes_effect", "award_nonfinal", "enforceable", "裁决生效", "the award takes effect",
      source="LDMAL 50", automatic=True, effects=("record_award_effect",),
      # AR 50 ¶4: after split awards, also the employer's revocation window on the final one.
      guards=("windows_expired:suit_window@worker,suit_window@employer,"
              "revocation_window@employer?",)),
    T("award_takes_effect", "award_final", "enforceable", "裁决生效", "the award takes effect",
      source="LDMAL 47-49", automatic=True, effects=("record_award_effect",),
      guards=("windows_expired:suit_window@worker,revocation_window@employer",)),

    # Court (LDMAL 48-50; CPL; LDI-1).
    # LDI-1 17: one of several workers sues while another's window still runs: the case waits
    # in the award state for every window; the suit is recorded for that worker.
    T("file_lawsuit", "award_nonfinal", None, "部分劳动者起诉", "one of several workers sues",
      source="LDI-1 17; LDMAL 50", party_act=True, data=_FILING, when="other_workers_may_sue",
      guards=("within:suit_window",), deadlines=(_meet("suit_window"),),
      effects=("record_person_suit",)),
    T("file_lawsuit", "award_final", None, "部分劳动者起诉", "one of several workers sues",
      source="LDI-1 17; LDMAL 48", party_act=True, data=_FILING, when="other_workers_may_sue",
      guards=(_BY_WORKER, "within:suit_window"), deadlines=(_meet("suit_window"),),
      effects=("record_person_suit",)),
    T("file_lawsuit", "award_nonfinal", "litigation", "起诉", "sue", source="LDMAL 50",
      party_act=True, data=_FILING, guards=("within:suit_window",),
      deadlines=(_meet("suit_window"),), effects=("record_suit", "record_award_effect")),
    T("file_lawsuit", "award_final", "litigation", "劳动者起诉", "the worker sues",
      source="LDMAL 48", party_act=True, data=_FILING, guards=(_BY_WORKER, "within:suit_window"),
      deadlines=(_meet("suit_window"),), effects=("record_suit", "record_award_effect")),
    T("file_lawsuit", "award_revoked", "litigation", "起诉", "sue", source="LDMAL 49 ¶3",
      party_act=True, data=_FILING, guards=("within:suit_window",),
      deadlines=(_meet("suit_window"),), effects=("record_suit",)),
    T("file_lawsuit", "arbitration_not_accepted", "litigation", "起诉", "sue",
      source="LDMAL 29", party_act=True, effects=("record_suit",)),
    T("file_lawsuit", "arbitration", "litigation", "逾期未裁决起诉", "sue after the award limit",
      source="LDMAL 43; LDI-1 12", party_act=True, guards=("expired:award_limit",),
      effects=("record_suit",)),
    T("file_lawsuit", "agreement_breached", "litigation", "依调解协议起诉",
      "sue on the agreement", source="LDI-1 51 ¶2", party_act=True,
      guards=(_BY_WORKER, "claims_only:wages"), effects=("record_suit",)),
    T("file_lawsuit", "received", "litigation", "依工资欠条起诉", "sue on a wage IOU",
      source="LDI-1 15", party_act=True, guards=("wage_iou",),
      data=(DataField("wage_iou", "bool", record=True),), effects=("record_suit",)),
    T("apply_revocation", "award_final", "revocation_review", "申请撤销终局裁决",
      "petition to revoke the final award", source="LDMAL 49; LDI-1 21", party_act=True,
      data=_FILING,
      guards=("by:employer", "within:revocation_window", "worker_has_not_sued"),
      deadlines=(_meet("revocation_window"),)),
    T("apply_revocation", "award_nonfinal", "revocation_review", "申请撤销终局裁决",
      "petition to revoke the separate final award", source="AR 50 ¶4; LDMAL 49",
      party_act=True, data=_FILING,
      guards=("by:employer", "within:revocation_window", "worker_has_not_sued"),
      deadlines=(_meet("revocation_window"),)),
    T("revoke_award", "revocation_review", "award_revoked", "裁定撤销裁决", "revoke the award",
      source="LDMAL 49; LDI-1 25 ¶2", data=(_SERVED,), effects=("end_suspended_enforcement",)),
    T("dismiss_revocation", "revocation_review", "enforcement", "驳回撤销申请（恢复执行）",
      "dismiss the petition (enforcement resumes)", source="LDI-1 22, 25 ¶2",
      when="enforcement_suspended", effects=("clear:enforcement_suspended",)),
    T("dismiss_revocation", "revocation_review", "enforceable", "驳回撤销申请",
      "dismiss the petition", source="LDI-1 22",
      data=(DataField("perform_by", "date", record=True),)),
    T("abandon", "award_revoked", "closed", "逾期未起诉", "no suit after revocation",
      resolution=Resolution.abandoned, automatic=True, source="LDMAL 49 ¶3",
      guards=("windows_expired:suit_window@worker,suit_window@employer",)),
    T("refer_to_prefiling_mediation", "received", "prefiling_mediation", "委派诉前调解",
      "delegate to pre-filing mediation", source="CPL 125; SMP 11, 27",
      interrupts_limitation=True,
      data=(DataField("org_id", "text", record=True), DataField("accepted_on", "date"))),
    T("refer_to_judicial_mediation", ("litigation", "appeal"), "judicial_mediation",
      "委托调解", "entrust mediation", source="SMP 11, 20, 27",
      data=(DataField("procedure", "procedure", record=True),
            DataField("org_id", "text", record=True))),
    T("issue_court_mediation_statement", "judicial_mediation", "enforceable",
      "出具民事调解书", "issue the court mediation statement", source="CPL 100-102",
      data=(DataField("perform_by", "date", record=True),),
      deadlines=(_meet("judicial_mediation_limit"),)),
    T("fail_judicial_mediation", "judicial_mediation", "litigation", "委托调解不成",
      "court-entrusted mediation fails", source="SMP 27", automatic=True),
    T("deliver_judgment", "litigation", "judgment", "送达一审判决", "serve the judgment",
      source="CPL 171", data=(_SERVED,)),
    T("file_appeal", "judgment", "appeal", "上诉", "appeal", source="CPL 171", party_act=True,
      data=_FILING,
      guards=("within:appeal_window",), deadlines=(_meet("appeal_window"),)),
    T("judgment_takes_effect", "judgment", "enforceable", "判决生效", "the judgment takes effect",
      source="CPL 171", automatic=True,
      guards=("windows_expired:appeal_window@worker,appeal_window@employer",)),
    T("deliver_final_judgment", "appeal", "enforceable", "送达终审判决",
      "serve the final judgment", source="CPL 182",
      data=(DataField("perform_by", "date", record=True),)),
    # LDI-1 21 ¶2: after the worker's suit against a final award is withdrawn or dismissed,
    # the employer has 30 days from receiving the ruling to petition for revocation.
    T("withdraw_lawsuit", "litigation", "award_final", "撤诉（终局裁决，用人单位可申请撤销）",
      "withdraw the suit against a final award", source="LDI-1 21 ¶2", party_act=True,
      when="suit_on_final_award", data=(_RULING_SERVED,),
      deadlines=(_start("revocation_window", "ruling_served_on", parties=("employer",)),),
      effects=("record_suit_withdrawn",)),
    T("dismiss_lawsuit", "litigation", "award_final", "裁定驳回起诉（终局裁决）",
      "dismiss the suit against a final award", source="LDI-1 21 ¶2",
      guards=("suit_on_final_award",), data=(_RULING_SERVED,),
      deadlines=(_start("revocation_window", "ruling_served_on", parties=("employer",)),),
      effects=("record_suit_withdrawn",)),
    T("withdraw_lawsuit", "litigation", "enforceable", "撤诉（裁决生效）",
      "withdraw the suit (the award takes effect)", source="I-2000 1", party_act=True,
      when="award_preceded_suit"),
    T("withdraw_lawsuit", "litigation", "closed", "撤诉", "withdraw the suit",
      source="CPL 148", party_act=True, resolution=Resolution.withdrawn),

    # Enforcement (CPL 247-250).
    T("apply_enforcement", "enforceable", "enforcement", "申请强制执行", "apply for enforcement",
      source="CPL 250", party_act=True, guards=("within:enforcement_window",),
      deadlines=(_meet("enforcement_window"),)),
    # A final award binds the employer at once (LDMAL 47); its 2-year window runs from the
    # award's date (or its performance date).
    T("apply_enforcement", "award_final", "enforcement", "申请强制执行", "apply for enforcement",
      source="LDMAL 47; CPL 250", party_act=True, guards=("within:enforcement_window",),
      deadlines=(_meet("enforcement_window"),)),
    T("complete_enforcement", "enforcement", "closed", "执行完毕", "enforcement completed",
      resolution=Resolution.enforced, source="CPL 247"),
    # LDI-1 25: the worker enforces a final award while the employer petitions to revoke it:
    # enforcement is suspended, resumed if the petition fails, ended if the award is revoked.
    T("apply_revocation", "enforcement", "revocation_review", "申请撤销终局裁决（中止执行）",
      "petition to revoke the final award under enforcement", source="LDMAL 49; LDI-1 25",
      party_act=True, data=_FILING,
      guards=("by:employer", "within:revocation_window", "worker_has_not_sued"),
      deadlines=(_meet("revocation_window"),), effects=("mark:enforcement_suspended",)),
    # LDI-1 24: the court refuses to enforce an award or mediation statement; each party may sue
    # within 30 days of receiving the ruling.
    T("refuse_enforcement", "enforcement", "enforcement_refused", "裁定不予执行",
      "refuse enforcement", source="LDI-1 24; CPL 248", data=(_SERVED,)),
    T("file_lawsuit", "enforcement_refused", "litigation", "不予执行后起诉",
      "sue after the non-enforcement ruling", source="LDI-1 24", party_act=True, data=_FILING,
      guards=("within:nonenforcement_suit_window",),
      deadlines=(_meet("nonenforcement_suit_window"),), effects=("record_suit",)),
    T("abandon", "enforcement_refused", "closed", "逾期未起诉", "no suit after non-enforcement",
      resolution=Resolution.abandoned, automatic=True, source="LDI-1 24",
      guards=("windows_expired:nonenforcement_suit_window@worker,"
              "nonenforcement_suit_window@employer",)),
    # CPL 228: the order cannot be served (or lapses): the procedure ends, and unless the
    # applicant refuses within 7 days of the ruling the case goes on (LDI-1 13).
    T("terminate_payment_order", "payment_order", "payment_order_terminated", "裁定终结督促程序",
      "end the payment-order procedure", source="CPL 228; CPL-I 430",
      data=(DataField("ruling_served_on", "date", record=True),
            DataField("reason", "text", record=True)),
      deadlines=(_meet("payment_order_objection"),)),
    T("refuse_litigation", "payment_order_terminated", "closed", "申请人不同意提起诉讼",
      "the applicant refuses litigation", source="CPL 228 ¶2", party_act=True,
      resolution=Resolution.withdrawn, guards=(_BY_WORKER, "within:litigation_refusal_window"),
      deadlines=(_meet("litigation_refusal_window"),)),
    T("proceed_after_payment_order", "payment_order_terminated", "litigation", "转入诉讼程序",
      "the case goes to court", source="CPL 228 ¶2; LDI-1 13 ¶3", automatic=True,
      when="order_rests_on_agreement", guards=("expired:litigation_refusal_window",)),
    T("proceed_after_payment_order", "payment_order_terminated", "arbitration_received",
      "转入仲裁", "the case goes to arbitration", source="LDI-1 13 ¶2", automatic=True,
      guards=("expired:litigation_refusal_window",), data=(DataField("received_on", "date"),)),

    # LDMAL 27 ¶3; AR 28: force majeure or another good reason suspends the limitation period;
    # it runs on ("继续计算") when the cause ends.
    T("suspend_limitation", _LIMITATION_STATES, None, "仲裁时效中止",
      "suspend the limitation period",
      source="LDMAL 27 ¶3; AR 28", guards=("limitation_not_suspended",),
      data=(DataField("suspended_on", "date"), DataField("reason", "text", record=True)),
      effects=("suspend_limitation",)),
    T("resume_limitation", _LIMITATION_STATES, None, "仲裁时效继续计算",
      "the limitation period runs on", source="LDMAL 27 ¶3; AR 28",
      guards=("limitation_suspended",), data=(DataField("resumed_on", "date"),),
      effects=("resume_limitation",)),

    # Leaving the flow.
    T("withdraw", tuple(s for s in NON_TERMINAL if s not in ("enforceable", "enforcement")),
      "closed", "撤回", "withdraw", party_act=True, resolution=Resolution.withdrawn,
      source="LDMAL 41; AR 35"),
    T("reject_out_of_scope", "received", "closed", "不属于劳动人事争议", "not a labour dispute",
      resolution=Resolution.out_of_scope, source="LDMAL 2; AR 30"),
    T("archive", "closed", "archived", "归档", "archive", source="AR 21-24"),
)
# fmt: on


@cache
def national_flow() -> FlowDefinition:
    """The national flow of flow.md (built once; it is immutable)."""
    return FlowDefinition("national", STATES, TRANSITIONS, DEADLINE_KINDS)
