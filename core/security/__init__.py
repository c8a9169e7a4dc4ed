"""Access control: actors and roles, local accounts, and the audit log.

See :mod:`core.security.access` for the roles and where they are checked.
"""

from __future__ import annotations

from core.security.access import GRANTS, PERMISSIONS, PERSONAL_DATA, ROLES, SYSTEM, Actor, Role
from core.security.users import Users

__all__ = ["GRANTS", "PERMISSIONS", "PERSONAL_DATA", "ROLES", "SYSTEM", "Actor", "Role", "Users"]
