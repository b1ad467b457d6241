"""Who may fire which trigger, and read which case.

An :class:`~mediation_flow.models.Actor` has a role (flow.md §6), an organisation and a region
scope (an administrative-division prefix). The national policy:

- **Region**: an actor with a region scope reads and acts only on cases whose region starts with
  it (``"43"``: all of Hunan; none: every region).
- **Roles per trigger** (:data:`NATIONAL_RULES`): only an arbitrator runs arbitration (accepts,
  issues awards, mediation statements); only a judge acts for the court (a trigger fired from a
  court state by an official must be a judge's, except the invited mediators of court-delegated
  mediation); the mediators run their own channel (a union mediator signs union-mediation
  agreements, not people's-mediation ones); intake officers route and record.
- **Mediators** act and read only on cases referred to their organisation (``Actor.org_id``
  equals the case's ``org_id``), and may take a case into their own organisation (a referral
  whose data names it, in their own channel).
- **Parties**: a worker or an employer acts only on a case where a party of their kind carries
  their account (``IntakeParty.account``), only for themselves (``data["by"]`` is their own kind
  or ``"both"``), and only for a party's own acts (applications, suits, appeals, withdrawals...).
- The ``system`` actor (the engine itself, and a host's trusted back end) may do everything.

Plugins can only tighten this: the ``authorize`` hook may refuse what the policy allows, never
allow what it refuses. A host can pass its own ``Policy`` (a subclass) to ``Engine(policy=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.models import Actor, Channel, Party, Role

__all__ = ["NATIONAL_RULES", "CaseScope", "Policy"]

INTAKE = frozenset({Role.intake_officer})
MEDIATORS = frozenset({Role.union_mediator, Role.peoples_mediator, Role.administrative_mediator})
ARB = frozenset({Role.arbitrator})
JUDGE = frozenset({Role.judge})
PARTIES = frozenset({Role.worker, Role.employer})
OFFICIALS = INTAKE | MEDIATORS | ARB | JUDGE

#: The roles that may fire each national trigger (the system actor may fire any).
NATIONAL_RULES: Mapping[str, frozenset[Role]] = {
    "refer_to_negotiation": INTAKE | PARTIES,
    "accept_negotiation": INTAKE | PARTIES,
    "sign_settlement": INTAKE | PARTIES,
    "fail_negotiation": INTAKE | PARTIES,
    "confirm_performance": OFFICIALS | {Role.worker},
    "report_breach": INTAKE | MEDIATORS | PARTIES,
    "refer_to_union_mediation": INTAKE | MEDIATORS | ARB | PARTIES,
    "refer_to_peoples_mediation": INTAKE | MEDIATORS | ARB | PARTIES,
    "refer_to_administrative_mediation": INTAKE | MEDIATORS | ARB | PARTIES,
    "accept_mediation": MEDIATORS,
    "extend_mediation": MEDIATORS,
    "sign_agreement": MEDIATORS,
    "fail_mediation": MEDIATORS,
    # Joint applications, recorded by the body that receives them or by the mediator helping.
    "apply_arbitration_review": INTAKE | MEDIATORS | ARB | PARTIES,
    "apply_judicial_confirmation": INTAKE | MEDIATORS | JUDGE | PARTIES,
    "issue_mediation_statement": ARB,
    "refuse_review": ARB,
    "confirm_agreement": JUDGE,
    "reject_confirmation": JUDGE,
    "apply_payment_order": INTAKE | JUDGE | {Role.worker},
    "serve_payment_order": JUDGE,
    "uphold_objection": JUDGE,
    "payment_order_takes_effect": JUDGE,
    "apply_arbitration": INTAKE | ARB | PARTIES,
    "request_supplement": ARB,
    "supplement": INTAKE | ARB | PARTIES,
    "accept_arbitration": ARB,
    "reject_arbitration": ARB,
    "start_arbitration_mediation": ARB,
    "fail_arbitration_mediation": ARB,
    "extend_award_limit": ARB,
    "suspend_arbitration": ARB,
    "resume_arbitration": ARB,
    "issue_award": ARB,
    "serve_award": ARB,
    "award_takes_effect": ARB | JUDGE,
    "file_lawsuit": JUDGE | PARTIES,
    "apply_revocation": JUDGE | {Role.employer},
    "revoke_award": JUDGE,
    "dismiss_revocation": JUDGE,
    "abandon": JUDGE,
    "refer_to_prefiling_mediation": JUDGE,
    "refer_to_judicial_mediation": JUDGE,
    "issue_court_mediation_statement": JUDGE,
    "fail_judicial_mediation": JUDGE,
    "deliver_judgment": JUDGE,
    "file_appeal": JUDGE | PARTIES,
    "judgment_takes_effect": JUDGE,
    "deliver_final_judgment": JUDGE,
    "withdraw_lawsuit": JUDGE | PARTIES,
    "apply_enforcement": JUDGE | PARTIES,
    "complete_enforcement": JUDGE,
    "withdraw": OFFICIALS | PARTIES,
    "reject_out_of_scope": INTAKE | ARB,
    "archive": OFFICIALS,
}

#: The mediator role of each mediation channel.
_CHANNEL_MEDIATOR = {
    Channel.union: Role.union_mediator,
    Channel.peoples: Role.peoples_mediator,
    Channel.administrative: Role.administrative_mediator,
}
#: A referral into a channel, taken by a mediator of that channel.
_REFERRAL_ROLE = {
    "refer_to_union_mediation": Role.union_mediator,
    "refer_to_peoples_mediation": Role.peoples_mediator,
    "refer_to_administrative_mediation": Role.administrative_mediator,
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
    :meth:`read_refusal` to change it, or pass ``rules`` to change who fires what."""

    def __init__(self, rules: Mapping[str, frozenset[Role]] | None = None) -> None:
        self.rules = dict(NATIONAL_RULES if rules is None else rules)

    # -- reading ----------------------------------------------------------------------------------

    def read_refusal(self, actor: Actor, case: CaseScope) -> str | None:
        """Why ``actor`` may not read ``case``, or None."""
        if actor.role is Role.system:
            return None
        if actor.region and not case.region.startswith(actor.region):
            return f"the case is in region {case.region}, outside the actor's scope {actor.region}"
        if actor.role in MEDIATORS:
            if actor.org_id is None:
                return "a mediator acts for an organisation: set Actor.org_id"
            if case.org_id != actor.org_id:
                return f"the case is not referred to the actor's organisation {actor.org_id!r}"
        if actor.role in PARTIES and not self._is_party(actor, case):
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
        """Why ``actor`` may not fire ``trigger`` on ``case`` with ``data``, or None."""
        if actor.role is Role.system:
            return None
        if actor.region and not case.region.startswith(actor.region):
            return f"the case is in region {case.region}, outside the actor's scope {actor.region}"
        roles = self.rules.get(trigger)
        if roles is None:
            # A trigger the national rules do not know (a plugin's): officials may fire it, and
            # parties if it is a party's own act.
            party_act = any(t.party_act for t in flow.transitions if t.trigger == trigger)
            roles = OFFICIALS | (PARTIES if party_act else frozenset())
        if actor.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles)) or "no role"
            return f"{trigger!r} is for {allowed}"
        state = flow.state_map.get(case.state)
        channel = state.channel if state else None
        if actor.role in MEDIATORS:
            return self._mediator_refusal(actor, case, trigger, data, channel)
        if actor.role in PARTIES:
            if not self._is_party(actor, case):
                return f"the actor is not the {actor.role.value} of this case"
            by = data.get("by")
            if by not in (None, actor.role.value, "both"):
                return f"a {actor.role.value} acts for themselves, not for the {by}"
            return None
        if channel is Channel.judicial and actor.role is not Role.judge:
            return f"only a judge acts in the court state {case.state!r}"
        return None

    def _mediator_refusal(
        self,
        actor: Actor,
        case: CaseScope,
        trigger: str,
        data: Mapping[str, Any],
        channel: Channel | None,
    ) -> str | None:
        if actor.org_id is None:
            return "a mediator acts for an organisation: set Actor.org_id"
        if data.get("org_id") == actor.org_id:
            # Taking a case into one's own organisation (a referral naming it).
            if trigger in _REFERRAL_ROLE and _REFERRAL_ROLE[trigger] is not actor.role:
                return f"a {actor.role.value} does not take cases into another channel"
            return None
        if case.org_id != actor.org_id:
            return f"the case is not referred to the actor's organisation {actor.org_id!r}"
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
    def _is_party(actor: Actor, case: CaseScope) -> bool:
        return any(
            p.kind.value == actor.role.value and p.account is not None and p.account == actor.id
            for p in case.parties
        )
