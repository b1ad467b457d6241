"""The HTTP service (``pip install 'mediation-flow[server]'``; ``mediation-flow serve``).

:func:`create_app` wraps an :class:`~mediation_flow.Engine` in an ASGI application (FastAPI);
:mod:`~mediation_flow.server.auth` turns requests into actors; errors are problem details
(:mod:`~mediation_flow.server.problems`). See ``docs/howto/service.md``.
"""

from mediation_flow.server.app import DEFAULT_MAX_BODY, create_app
from mediation_flow.server.auth import (
    Authenticator,
    HmacTokenAuthenticator,
    Unauthenticated,
    issue_token,
)
from mediation_flow.server.problems import PROBLEM_STATUS, problem, problem_type

__all__ = [
    "DEFAULT_MAX_BODY",
    "PROBLEM_STATUS",
    "Authenticator",
    "HmacTokenAuthenticator",
    "Unauthenticated",
    "create_app",
    "issue_token",
    "problem",
    "problem_type",
]
