"""Paperwork: documents rendered from the case (:mod:`mediation_flow.documents`) and
recorded, the templates of a region, and moving a case-number counter on
(:mod:`mediation_flow.numbering`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mediation_flow.documents import Document, TemplateInfo, document_context
from mediation_flow.engine.core import EngineCore
from mediation_flow.errors import InvalidData, PermissionDenied
from mediation_flow.inputs import encodable
from mediation_flow.models import Actor, Role


class Paperwork(EngineCore):
    """Documents, templates and case-number counters."""

    def render_document(
        self,
        case_id: int,
        template: str,
        *,
        format: str = "html",
        values: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
        at: datetime | None = None,
    ) -> Document:
        """Fill a document template (:mod:`mediation_flow.documents`) from the case and render
        it to ``format`` (``html`` or ``docx``). ``values`` are the official's additions (the
        agreed terms, the reason, the document served...). The rendering is recorded (template,
        SHA-256, who, when; :meth:`documents`). Documents carry the parties' identity numbers:
        only an actor who may see the case's personal data renders them (``PermissionDenied``).
        The issuing organisation is ``values["organisation"]``, else the actor's ``org_id``, else
        the organisation handling the case in its current channel. Raises ``DocumentError`` for
        an unknown template or format, or a template that fails.
        """
        actor = self._acting(actor, "render documents of")
        at = self._at(at, "render_document")
        if actor.org_id is not None:
            # The issuing organisation defaults to the official's own.
            values = {"organisation": actor.org_id, **(values or {})}
        with self._store.connect() as conn:
            with self._store.reading(conn):
                case = self._get(conn, case_id)
                self._authorize_personal_data(actor, case, "render documents of")
                history = self._store.history(conn, case_id)
            flow = self._flows.get(case.flow_fingerprint)
            context = document_context(
                case,
                history,
                today=self._day(at),
                values=values,
                flow=flow.definition if flow else self.flow_for(case.region),
            )
            document = self._templates_for(case.region).render(
                template, context, format=format, case_id=case.id
            )
            with self._store.writing(conn):
                self._store.insert_document(
                    conn,
                    {
                        "case_id": case.id,
                        "template": document.template,
                        "title": document.title,
                        "format": document.format,
                        "sha256": document.sha256,
                        "size": len(document.content),
                        "case_version": case.version,
                        "actor_id": actor.id,
                        "actor_role": actor.role.value,
                        "rendered_at": at,
                    },
                )
        self._log.info(
            "document_rendered",
            case_id=case.id,
            template=document.template,
            format=document.format,
            sha256=document.sha256,
            actor_id=actor.id,
        )
        return document

    def document_templates(self, region: str) -> list[TemplateInfo]:
        """The templates documents of ``region`` are rendered from (the built-in ones, as the
        region's plugins replaced or added them)."""
        templates = self._templates_for(region)
        return [templates.info(name) for name in templates.names()]

    def documents(self, case_id: int, *, actor: Actor | None = None) -> list[dict[str, Any]]:
        """The documents rendered for the case, oldest first: template, title, format,
        SHA-256, size, the case version, who and when."""
        actor = self._acting(actor, "read")
        with self._store.connect() as conn, self._store.reading(conn):
            self._authorize_read(actor, self._get(conn, case_id))
            return self._store.documents_of(conn, case_id)

    def advance_numbering(
        self, prefix: str, year: int, *, to: int, actor: Actor | None = None
    ) -> int:
        """Continue a prefix's numbering of ``year`` after ``to``: the next number issued is
        ``to + 1``. For an organisation that numbered its cases elsewhere until now; a counter is
        never moved back (that would issue a number twice). Returns the counter's value: the
        last number issued or reserved (``to``, or more if numbers beyond it were issued).
        Only the system actor (the host's operators) moves a counter."""
        actor = self._acting(actor, "advance a case-number counter")
        if actor.role is not Role.system:
            raise PermissionDenied(
                actor.id,
                actor.role.value,
                "advance a case-number counter",
                None,
                "counters are moved by the host's operators (the system actor)",
            )
        if not isinstance(prefix, str) or not 0 < len(prefix) <= 100 or not encodable(prefix):
            raise InvalidData(
                "advance_numbering", "prefix", "must be 1 to 100 characters of UTF-8 text"
            )
        for name, value in (("year", year), ("to", to)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise InvalidData("advance_numbering", name, f"expected a count, got {value!r}")
        with self._store.connect() as conn, self._store.writing(conn):
            last = self._store.raise_counter(conn, prefix, year, to)
        self._log.info("numbering_advanced", prefix=prefix, year=year, to=to, last=last)
        return last
