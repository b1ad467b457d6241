"""mediation_flow: China's labour-dispute five-mediation linkage (五调联动) as a workflow engine.

The public API is what this module exports; everything else may move between releases::

    from mediation_flow import Engine

    engine = Engine("sqlite://")
    case = engine.open_case({...})
    case = engine.fire(case.id, "refer_to_union_mediation", data={"org_id": "..."})
"""

from mediation_flow.calendar import (
    Calendar,
    add_calendar_days,
    add_working_days,
    add_years,
    is_working_day,
)
from mediation_flow.documents import Document
from mediation_flow.engine import Engine, retry_on_conflict
from mediation_flow.errors import (
    ActorRequired,
    CalendarNotAvailable,
    CaseHandedOver,
    CaseNotFound,
    ConcurrentUpdate,
    DatabaseBusy,
    DatabaseError,
    DatabaseUnavailable,
    DocumentError,
    FlowDefinitionError,
    GuardFailed,
    HandoffRejected,
    IdempotencyConflict,
    IllegalTransition,
    InvalidActor,
    InvalidData,
    InvalidIntake,
    MediationFlowError,
    NotFound,
    PermissionDenied,
    PluginError,
    SchemaMismatch,
    StorageError,
    TransitionError,
    UnknownFlow,
)
from mediation_flow.flow import (
    DataField,
    DeadlineKind,
    DeadlineOp,
    FlowDefinition,
    StateDef,
    TransitionDef,
    Unit,
    national_flow,
)
from mediation_flow.handoff import HandoffPackage, HandoffResult, HandoffSettings
from mediation_flow.holiday_schedule import Basis, HolidaySchedule
from mediation_flow.hookspecs import hookimpl
from mediation_flow.logging import configure_json_logging
from mediation_flow.lookup import Progress
from mediation_flow.models import (
    SYSTEM,
    Actor,
    Case,
    CaseNumber,
    Channel,
    Claim,
    ClaimKind,
    Deadline,
    DeadlineStatus,
    Event,
    Intake,
    Party,
    PartyKind,
    PartyRole,
    Resolution,
    Role,
)
from mediation_flow.numbering import NumberingRule
from mediation_flow.plugins import AttributeSpec, Route
from mediation_flow.policy import Authority, Policy, Side
from mediation_flow.redating import CalendarStatus
from mediation_flow.reports import Report

__version__ = "0.1.0"

__all__ = [
    "SYSTEM",
    "Actor",
    "ActorRequired",
    "AttributeSpec",
    "Authority",
    "Basis",
    "Calendar",
    "CalendarNotAvailable",
    "CalendarStatus",
    "Case",
    "CaseHandedOver",
    "CaseNotFound",
    "CaseNumber",
    "Channel",
    "Claim",
    "ClaimKind",
    "ConcurrentUpdate",
    "DataField",
    "DatabaseBusy",
    "DatabaseError",
    "DatabaseUnavailable",
    "Deadline",
    "DeadlineKind",
    "DeadlineOp",
    "DeadlineStatus",
    "Document",
    "DocumentError",
    "Engine",
    "Event",
    "FlowDefinition",
    "FlowDefinitionError",
    "GuardFailed",
    "HandoffPackage",
    "HandoffRejected",
    "HandoffResult",
    "HandoffSettings",
    "HolidaySchedule",
    "IdempotencyConflict",
    "IllegalTransition",
    "Intake",
    "InvalidActor",
    "InvalidData",
    "InvalidIntake",
    "MediationFlowError",
    "NotFound",
    "NumberingRule",
    "Party",
    "PartyKind",
    "PartyRole",
    "PermissionDenied",
    "PluginError",
    "Policy",
    "Progress",
    "Report",
    "Resolution",
    "Role",
    "Route",
    "SchemaMismatch",
    "Side",
    "StateDef",
    "StorageError",
    "TransitionDef",
    "TransitionError",
    "Unit",
    "UnknownFlow",
    "__version__",
    "add_calendar_days",
    "add_working_days",
    "add_years",
    "configure_json_logging",
    "hookimpl",
    "is_working_day",
    "national_flow",
    "retry_on_conflict",
]
