"""Alembic migrations of the mediation_flow schema."""
