"""Persistence: SQLModel tables and the repository that writes a command in one transaction."""
