"""The actor for command-line administration (``fitstore user create``)."""

from fitstore.models import Role


class SystemActor:
    """Acts with admin rights from the console; audited as "system:cli" with no user id."""

    is_authenticated = True
    role = Role.ADMIN
    land_ags = None
    organisation_id = None
    id = None
    email = "system:cli"
