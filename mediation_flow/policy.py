"""Who may fire which trigger, and read which case.

An :class:`~mediation_flow.models.Actor` has a role (flow.md §6), an organisation and a region
scope (an administrative-division prefix). The national policy:

- **Scope first**: an actor with a region scope reads and acts only on cases whose region starts
  with it (``"43"``: all of Hunan; ``None``: every region); a mediator only on cases referred to
  its organisation (``Actor.org_id`` equals the case's ``org_id``); a party only on cases where a
  party of its kind carries its account (``IntakeParty.account``). A case outside the scope is
  "not found" (:class:`~mediation_flow.errors.CaseNotFound`): a refusal reveals nothing.
- **Authority per trigger** (:data:`NATIONAL_AUTHORITY`): each trigger declares the official roles
  that may fire it and, for a party's own act, which party: the ``applicant``, the
  ``respondent``, ``either`` of them, ``both`` jointly, or the ``worker`` / ``employer`` by kind.
  Only an arbitrator runs arbitration; only a judge acts for the court (a trigger fired from a
  court state by an official must be a judge's, except the invited mediators of court-delegated
  mediation); the mediators run their own channel.
- **Parties act as themselves**: a worker or employer actor is the party whose account it is;
  ``data["by"]`` is checked against it and filled in from it, never widening what it may do. An
  act of both parties fired by one of them carries the other's consent (``data["consent"]``, a
  reference to the signed consent), so the event records both.
- The ``system`` actor (the engine itself, and a host's trusted back end) may do everything.

Plugins can only tighten this: the ``authorize`` hook may refuse what the policy allows, never
allow what it refuses. A host can pass its own ``Policy`` (a subclass) to ``Engine(policy=...)``,
or its own ``authority`` table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.models import Actor, Channel, Party, Role

__all__ = ["NATIONAL_AUTHORITY", "NATIONAL_RULES", "Authority", "CaseScope", "Policy", "Side"]

INTAKE = frozenset({Role.intake_officer})
MEDIATORS = frozenset({Role.union_mediator, Role.peoples_mediator, Role.administrative_mediator})
ARB = frozenset({Role.arbitrator})
JUDGE = frozenset({Role.judge})
PARTIES = frozenset({Role.worker, Role.employer})
OFFICIALS = INTAKE | MEDIATORS | ARB | JUDGE


class Side(StrEnum):
    """Which party may perform a party's own act."""

    #: The party who brought the dispute (LDMAL 41: only the applicant withdraws).
    applicant = "applicant"
    #: The party who answers it.
    respondent = "respondent"
    #: Either party, each for itself.
    either = "either"
    #: Both parties jointly: one fires it with the other's consent reference.
    both = "both"
    #: The worker, whichever side it is on (LDMAL 16, 48).
    worker = "worker"
    #: The employer, whichever side it is on (LDMAL 49).
    employer = "employer"


@dataclass(frozen=True)
class Authority:
    """Who may fire a trigger: official ``roles``, and ``party`` for a party's own act
    (``None``: parties may not fire it). ``party_in`` overrides ``party`` in given states."""

    roles: frozenset[Role]
    party: Side | None = None
    party_in: Mapping[str, Side | None] = field(default_factory=dict)

    def side(self, state: str) -> Side | None:
        """Which party may fire the trigger from ``state``."""
        return self.party_in.get(state, self.party)

    @property
    def sides(self) -> frozenset[Side]:
        """Every side the trigger may be fired by, over all states."""
        found = {self.party, *self.party_in.values()}
        return frozenset(s for s in found if s is not None)

    @property
    def all_roles(self) -> frozenset[Role]:
        """The roles that may fire it in some state (parties included)."""
        if not self.sides:
            return self.roles
        if self.sides <= {Side.worker}:
            return self.roles | {Role.worker}
        if self.sides <= {Side.employer}:
            return self.roles | {Role.employer}
        return self.roles | PARTIES


def _a(roles: frozenset[Role], party: str | None = None, **party_in: str | None) -> Authority:
    return Authority(
        roles,
        Side(party) if party else None,
        {state: Side(side) if side else None for state, side in party_in.items()},
    )


# The arbitration applicant's own application is pending here: only the applicant takes the case
# out of arbitration (into mediation), as only the applicant withdraws it (LDMAL 41).
_OUT_OF_ARBITRATION = {"arbitration_received": "applicant"}

#: The declared authority of each national trigger (the system actor may fire any). A trigger
#: not listed here (a plugin's) is for the officials, and for either party if it is a party act.
NATIONAL_AUTHORITY: Mapping[str, Authority] = {
    "refer_to_negotiation": _a(INTAKE, "either"),
    "accept_negotiation": _a(INTAKE, "either"),
    # ENMP 11: a settlement is signed by both parties.
    "sign_settlement": _a(INTAKE, "both"),
    "fail_negotiation": _a(INTAKE, "either"),
    # The creditor confirms that it was paid.
    "confirm_performance": _a(OFFICIALS, "worker"),
    "report_breach": _a(INTAKE | MEDIATORS, "either"),
    "refer_to_union_mediation": _a(INTAKE | MEDIATORS | ARB, "either", **_OUT_OF_ARBITRATION),
    "refer_to_peoples_mediation": _a(INTAKE | MEDIATORS | ARB, "either", **_OUT_OF_ARBITRATION),
    "refer_to_administrative_mediation": _a(
        INTAKE | MEDIATORS | ARB, "either", **_OUT_OF_ARBITRATION
    ),
    "accept_mediation": _a(MEDIATORS),
    # ENMP 29: both parties consent; the mediator records it.
    "extend_mediation": _a(MEDIATORS),
    "sign_agreement": _a(MEDIATORS),
    "fail_mediation": _a(MEDIATORS),
    # Joint applications (AR 74; CPL 205), recorded by the body that receives them or by the
    # mediator helping, or made by one party with the other's consent.
    "apply_arbitration_review": _a(INTAKE | MEDIATORS | ARB, "both"),
    "apply_judicial_confirmation": _a(INTAKE | MEDIATORS | JUDGE, "both"),
    "issue_mediation_statement": _a(ARB),
    "refuse_review": _a(ARB),
    "confirm_agreement": _a(JUDGE),
    "reject_confirmation": _a(JUDGE),
    "apply_payment_order": _a(INTAKE | JUDGE, "worker"),
    "serve_payment_order": _a(JUDGE),
    "uphold_objection": _a(JUDGE),
    "payment_order_takes_effect": _a(JUDGE),
    "apply_arbitration": _a(INTAKE | ARB, "either"),
    "request_supplement": _a(ARB),
    "supplement": _a(INTAKE | ARB, "applicant"),
    "accept_arbitration": _a(ARB),
    "reject_arbitration": _a(ARB),
    "start_arbitration_mediation": _a(ARB),
    "fail_arbitration_mediation": _a(ARB),
    "extend_award_limit": _a(ARB),
    "suspend_arbitration": _a(ARB),
    "resume_arbitration": _a(ARB),
    "issue_award": _a(ARB),
    "serve_award": _a(ARB),
    "award_takes_effect": _a(ARB | JUDGE),
    "file_lawsuit": _a(JUDGE, "either"),
    "apply_revocation": _a(JUDGE, "employer"),
    "revoke_award": _a(JUDGE),
    "dismiss_revocation": _a(JUDGE),
    "abandon": _a(JUDGE),
    "refer_to_prefiling_mediation": _a(JUDGE),
    "refer_to_judicial_mediation": _a(JUDGE),
    "issue_court_mediation_statement": _a(JUDGE),
    "fail_judicial_mediation": _a(JUDGE),
    "deliver_judgment": _a(JUDGE),
    "file_appeal": _a(JUDGE, "either"),
    "judgment_takes_effect": _a(JUDGE),
    "deliver_final_judgment": _a(JUDGE),
    "withdraw_lawsuit": _a(JUDGE, "either"),
    "apply_enforcement": _a(JUDGE, "either"),
    "complete_enforcement": _a(JUDGE),
    # LDMAL 41; AR 35: the applicant withdraws its application.
    "withdraw": _a(OFFICIALS, "applicant"),
    "reject_out_of_scope": _a(INTAKE | ARB),
    "archive": _a(OFFICIALS),
    # The commission's procedure (AR 20, 31, 33, 36-39, 46, 49, 51; LDMAL 43-44): the tribunal.
    "serve_application_copy": _a(ARB),
    "serve_by_posting": _a(ARB),
    "serve_by_publication": _a(ARB),
    "publication_served": _a(ARB),
    # AR 36: the respondent's counterclaim; the commission decides on it.
    "file_counterclaim": _a(ARB, "respondent"),
    "reject_counterclaim": _a(ARB),
    "merge_counterclaim": _a(ARB),
    "form_tribunal": _a(ARB),
    "schedule_hearing": _a(ARB),
    # AR 38: either party may ask to postpone the hearing.
    "request_postponement": _a(ARB, "either"),
    "add_party": _a(ARB),
    "change_claims": _a(ARB),
    "transfer_jurisdiction": _a(ARB),
    "deem_withdrawn": _a(ARB),
    "issue_partial_award": _a(ARB),
    "order_advance_execution": _a(ARB),
    # LDMAL 27 ¶3; AR 28: the commission records the suspension of the limitation period.
    "suspend_limitation": _a(INTAKE | ARB),
    "resume_limitation": _a(INTAKE | ARB),
    # The court (LDI-1 21, 24; CPL 228, 248).
    "dismiss_lawsuit": _a(JUDGE),
    "refuse_enforcement": _a(JUDGE),
    "terminate_payment_order": _a(JUDGE),
    # CPL 228 ¶2: the payment-order applicant (the worker) refuses litigation.
    "refuse_litigation": _a(JUDGE, "worker"),
    "proceed_after_payment_order": _a(JUDGE | ARB),
}

#: The roles that may fire each national trigger in some state (parties included); the
#: declaration is :data:`NATIONAL_AUTHORITY`.
NATIONAL_RULES: Mapping[str, frozenset[Role]] = {
    trigger: authority.all_roles for trigger, authority in NATIONAL_AUTHORITY.items()
}

#: The mediator role of each mediation channel.
_CHANNEL_MEDIATOR = {
    Channel.union: Role.union_mediator,
    Channel.peoples: Role.peoples_mediator,
    Channel.administrative: Role.administrative_mediator,
}
#: Mediation acts in court-delegated mediation are done by the court's invited mediators.
_PREFILING_ACTS = frozenset(
    {"sign_agreement", "fail_mediation", "accept_mediation", "extend_mediation"}
)


@dataclass(frozen=True)
class CaseScope:
    """What the policy needs to know about a case."""

    id: int
    region: str
    state: str
    org_id: str | None
    parties: tuple[Party, ...]


class Policy:
    """The national policy; subclass and override :meth:`fire_refusal` or
    :meth:`read_refusal` to change it, or pass ``authority`` (trigger -> :class:`Authority`) to
    change who fires what. ``rules`` (trigger -> roles, the older form) is still accepted: a
    party role in it means either party (or that kind of party alone)."""

    def __init__(
        self,
        rules: Mapping[str, frozenset[Role]] | None = None,
        *,
        authority: Mapping[str, Authority] | None = None,
    ) -> None:
        table = dict(NATIONAL_AUTHORITY if authority is None else authority)
        if rules is not None:
            table.update({trigger: _from_roles(roles) for trigger, roles in rules.items()})
        self.authority = table
        self.rules = {trigger: a.all_roles for trigger, a in table.items()}

    def authority_for(self, trigger: str, flow: FlowDefinition) -> Authority:
        """The declared authority of ``trigger``; for a trigger the table does not know (a
        plugin's): the officials, and either party if some edge of it is a party's act."""
        found = self.authority.get(trigger)
        if found is not None:
            return found
        party_act = any(t.party_act for t in flow.transitions if t.trigger == trigger)
        return Authority(OFFICIALS, Side.either if party_act else None)

    # -- reading ----------------------------------------------------------------------------------

    def read_refusal(self, actor: Actor, case: CaseScope) -> str | None:
        """Why ``actor`` may not read ``case`` (it is outside the actor's scope), or None."""
        if actor.role is Role.system:
            return None
        if actor.region is not None and not case.region.startswith(actor.region):
            return f"the case is in region {case.region}, outside the actor's scope {actor.region}"
        if actor.role in MEDIATORS:
            if actor.org_id is None:
                return "a mediator acts for an organisation: set Actor.org_id"
            if case.org_id != actor.org_id:
                return f"the case is not referred to the actor's organisation {actor.org_id!r}"
        if actor.role in PARTIES and self.own_party(actor, case) is None:
            return f"the actor is not the {actor.role.value} of this case"
        return None

    def personal_data_refusal(self, actor: Actor, case: CaseScope) -> str | None:
        """Why ``actor`` may not see the case's identity numbers and phones in clear text."""
        if actor.role is Role.system:
            return None
        reason = self.read_refusal(actor, case)
        if reason is not None:
            return reason
        if actor.role in PARTIES:
            return "parties see the other side's personal data only through the case officer"
        return None

    # -- acting -----------------------------------------------------------------------------------

    def fire_refusal(
        self,
        actor: Actor,
        case: CaseScope,
        trigger: str,
        data: Mapping[str, Any],
        flow: FlowDefinition,
    ) -> str | None:
        """Why ``actor`` may not fire ``trigger`` on ``case`` with ``data``, or None. The scope
        (:meth:`read_refusal`) is checked first."""
        if actor.role is Role.system:
            return None
        reason = self.read_refusal(actor, case)
        if reason is not None:
            return reason
        authority = self.authority_for(trigger, flow)
        if actor.role in PARTIES:
            return self._party_refusal(actor, case, trigger, data, authority)
        if actor.role not in authority.roles:
            return f"{trigger!r} is for {_describe(authority, case.state)}"
        state = flow.state_map.get(case.state)
        channel = state.channel if state else None
        if actor.role in MEDIATORS:
            return self._mediator_refusal(actor, case, trigger, channel)
        if channel is Channel.judicial and actor.role is not Role.judge:
            return f"only a judge acts in the court state {case.state!r}"
        return None

    def role_refusal(self, actor: Actor, trigger: str, flow: FlowDefinition) -> str | None:
        """Why ``actor``'s role may fire ``trigger`` in no state at all, or None (an idempotent
        replay re-checks this, with the scope)."""
        if actor.role is Role.system:
            return None
        authority = self.authority_for(trigger, flow)
        if actor.role in authority.all_roles:
            return None
        return f"{trigger!r} is for {', '.join(sorted(r.value for r in authority.all_roles))}"

    def acting_data(
        self,
        actor: Actor,
        case: CaseScope,
        trigger: str,
        data: Mapping[str, Any],
        flow: FlowDefinition,
    ) -> Mapping[str, Any]:
        """``data`` as the command records it: a party's act says which party acted
        (``by``), taken from the actor: ``"both"`` for a joint act, else the actor's kind."""
        if actor.role not in PARTIES or not isinstance(data, Mapping):
            return data
        side = self.authority_for(trigger, flow).side(case.state)
        by = "both" if side is Side.both else actor.role.value
        if data.get("by") == by:
            return data
        return {**data, "by": by}

    def consent_refusal(
        self,
        actor: Actor,
        case: CaseScope,
        trigger: str,
        data: Mapping[str, Any],
        flow: FlowDefinition,
    ) -> str | None:
        """What is missing for an act of both parties fired by one of them: the other party's
        consent (``data["consent"]``, a reference to it), or None."""
        if actor.role not in PARTIES:
            return None
        if self.authority_for(trigger, flow).side(case.state) is not Side.both:
            return None
        consent = data.get("consent") if isinstance(data, Mapping) else None
        if isinstance(consent, str) and consent.strip():
            return None
        other = "employer" if actor.role is Role.worker else "worker"
        return (
            f"{trigger!r} is an act of both parties: fired by the {actor.role.value}, it needs "
            f"the {other}'s consent: set data 'consent' to the reference of the {other}'s "
            "signed consent"
        )

    def _party_refusal(
        self,
        actor: Actor,
        case: CaseScope,
        trigger: str,
        data: Mapping[str, Any],
        authority: Authority,
    ) -> str | None:
        party = self.own_party(actor, case)
        if party is None:
            return f"the actor is not the {actor.role.value} of this case"
        side = authority.side(case.state)
        if side is None:
            return f"{trigger!r} is for {_describe(authority, case.state)}"
        by = data.get("by") if isinstance(data, Mapping) else None
        if by is not None and by != actor.role.value and not (by == "both" and side is Side.both):
            return f"a {actor.role.value} acts for themselves, not for the {by}"
        if side in (Side.worker, Side.employer) and actor.role.value != side.value:
            return f"{trigger!r} is the {side.value}'s act"
        if side in (Side.applicant, Side.respondent) and party.role.value != side.value:
            return (
                f"{trigger!r} is the {side.value}'s act here, and the actor's party is the "
                f"{party.role.value}"
            )
        return None

    def _mediator_refusal(
        self,
        actor: Actor,
        case: CaseScope,
        trigger: str,
        channel: Channel | None,
    ) -> str | None:
        # The scope check made sure the case is referred to the actor's organisation.
        if case.state == "prefiling_mediation":
            if trigger in _PREFILING_ACTS:
                return None
            return f"only a judge acts in the court state {case.state!r}"
        own = _CHANNEL_MEDIATOR.get(channel) if channel else None
        if own is not None and own is not actor.role and trigger in _PREFILING_ACTS:
            return f"{trigger!r} in {case.state!r} is for a {own.value}"
        if channel is Channel.judicial:
            return f"only a judge acts in the court state {case.state!r}"
        return None

    @staticmethod
    def own_party(actor: Actor, case: CaseScope) -> Party | None:
        """The party of ``case`` whose account the party actor is, or None."""
        if actor.role not in PARTIES:
            return None
        return next(
            (
                p
                for p in case.parties
                if p.kind.value == actor.role.value
                and p.account is not None
                and p.account == actor.id
            ),
            None,
        )

    @staticmethod
    def _is_party(actor: Actor, case: CaseScope) -> bool:
        return Policy.own_party(actor, case) is not None


def _describe(authority: Authority, state: str) -> str:
    names = sorted(r.value for r in authority.roles)
    side = authority.side(state)
    if side is not None:
        names.append(
            "both parties jointly" if side is Side.both
            else "either party" if side is Side.either
            else f"the {side.value}"
        )  # fmt: skip
    return ", ".join(names) or "no role"


def _from_roles(roles: frozenset[Role]) -> Authority:
    parties = roles & PARTIES
    side = (
        None if not parties
        else Side.either if parties == PARTIES
        else Side(next(iter(parties)).value)
    )  # fmt: skip
    return Authority(frozenset(roles - PARTIES), side)
