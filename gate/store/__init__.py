"""Persistence: SQLAlchemy tables, queries and Alembic migrations."""

from gate.store.db import Database
from gate.store.tables import Assessment, AuditEntry, Delivery, Deployment, Job

__all__ = ["Assessment", "AuditEntry", "Database", "Delivery", "Deployment", "Job"]
