"""The plain-Markdown API reference (docs/reference/api-plain.md) is generated from the code
and committed: it must be the generator's current output."""

from __future__ import annotations

from pathlib import Path

import mediation_flow
from mediation_flow.apidoc import render

PLAIN = Path(__file__).resolve().parent.parent / "docs" / "reference" / "api-plain.md"


def test_the_plain_api_reference_is_current() -> None:
    assert PLAIN.read_text(encoding="utf-8") == render(), (
        "docs/reference/api-plain.md is stale: run "
        "'python -m mediation_flow.apidoc > docs/reference/api-plain.md'"
    )


def test_it_names_every_public_name() -> None:
    text = render()
    for name in mediation_flow.__all__:
        assert f"## `{name}`" in text, name
    assert "Engine.open_case(self" in text and "idempotency_key" in text
