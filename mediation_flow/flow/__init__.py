"""The flow as data (definition, national flow, guards, effects) and its compilation into a
``transitions`` machine. Nothing here touches the database."""

from mediation_flow.flow.compiler import CompiledFlow, compile_flow
from mediation_flow.flow.definition import (
    DataField,
    DeadlineKind,
    DeadlineOp,
    FlowDefinition,
    StateDef,
    TransitionDef,
    Unit,
)
from mediation_flow.flow.national import national_flow

__all__ = [
    "CompiledFlow",
    "DataField",
    "DeadlineKind",
    "DeadlineOp",
    "FlowDefinition",
    "StateDef",
    "TransitionDef",
    "Unit",
    "compile_flow",
    "national_flow",
]
