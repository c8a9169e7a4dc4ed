"""Who may do what: roles, the actor behind every action, and the one check every action makes.

Three roles, each including the one before:

- **viewer** sees dataflows, runs, run history and profiles, with personal
  data fields hidden unless the account is granted ``personal_data``;
- **editor** manages connections, mappings, dataflows and runs, and sees
  personal data (previews, records, quarantined rows);
- **admin** also manages users and roles, workspace settings (identity rules,
  merge policies) and the secrets key.

The check lives in :mod:`core.services` and the classes it hands out
(studio, profiles, alerts), not in the pages: a page that forgets to hide a
button still cannot change anything, and neither can the CLI run as a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.errors import PermissionDeniedError

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
#: A grant a viewer may be given on top of their role.
PERSONAL_DATA = "personal_data"
GRANTS = (PERSONAL_DATA,)

#: What each permission needs: the lowest role that has it.
PERMISSIONS: dict[str, Role] = {
    "view": "viewer",  # dataflows, runs, profiles (personal fields hidden)
    "view_personal_data": "editor",  # previews, records, quarantined rows, profile attributes
    "edit": "editor",  # connections, mappings, dataflows, runs, alerts
    "admin": "admin",  # users, roles, settings, secrets key
}


@dataclass(frozen=True)
class Actor:
    """Whoever an action is done for: a signed-in user, or Tributary itself (scheduler, local CLI)."""

    name: str
    role: Role
    grants: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        """Whether this actor has ``permission`` (one of :data:`PERMISSIONS`)."""
        needed = PERMISSIONS[permission]
        if permission == "view_personal_data" and PERSONAL_DATA in self.grants:
            return True
        return ROLES.index(self.role) >= ROLES.index(needed)

    def require(self, permission: str, action: str) -> None:
        """Raises PermissionDeniedError naming the action and the role it needs, unless allowed."""
        if not self.can(permission):
            needed = PERMISSIONS[permission]
            raise PermissionDeniedError(
                f"{self.name} ({self.role}) may not {action}: it needs the {needed} role"
                + (" or the personal data grant" if permission == "view_personal_data" else "")
                + "; ask an admin."
            )


#: Tributary acting on its own: the scheduler, and the command line run by whoever owns the workspace.
SYSTEM = Actor("tributary", "admin")
