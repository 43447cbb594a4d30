"""The bootstrap admin: the first admin of the default tenant, created once per deployment at start-up."""

from __future__ import annotations

import logging
from collections.abc import Callable

from novamem.domain.scope import PUBLIC_TENANT
from novamem.errors import NovamemError
from novamem.services.identity.passwords import generate_password, hash_password
from novamem.services.identity.users import normalise_email
from novamem.storage.accounts import AccountStore, UserRecord

__all__ = ["BOOTSTRAP_EMAIL", "BootstrapService"]

log = logging.getLogger("novamem.accounts")

BOOTSTRAP_EMAIL = "admin@localhost"
BOOTSTRAP_NAME = "bootstrap-admin"


class BootstrapService:
    """Creates the first admin when the default tenant has none (the app's lifespan calls it)."""

    def __init__(self, store: AccountStore) -> None:
        self._store = store

    async def ensure_first_admin(
        self, email: str | None, password: str | None, *, announce: Callable[[str], None]
    ) -> UserRecord | None:
        """Create the first admin of the default tenant when it has none (once per deployment).

        With a configured password that admin is created from the bootstrap variables; without one, a
        random one-time password is generated and handed to `announce` (the console), never to logs.
        Either way the admin must change the password at first sign-in.
        """
        if await self._store.count_admins(PUBLIC_TENANT) > 0:
            if password is not None:
                log.warning(
                    "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD is still set but an admin already exists; "
                    "remove it from the environment (it is not used any more)"
                )
            return None
        address = normalise_email(email or BOOTSTRAP_EMAIL)
        one_time = password is None
        secret = generate_password() if password is None else password
        try:
            user = await self._store.create_first_admin(
                PUBLIC_TENANT, email=address, name=BOOTSTRAP_NAME, password_hash=await hash_password(secret)
            )
        except NovamemError as exc:
            log.error("could not create the first admin %s: %s", address, exc.message)
            return None
        if user is None:  # another replica won the race
            return None
        log.warning("created the first admin account %s; it must change its password at first sign-in", address)
        if one_time:
            announce(
                "\n"
                "novamem: created the first admin account\n"
                f"    email:    {address}\n"
                f"    password: {secret}\n"
                "This one-time password is shown only now; sign in and change it at once.\n"
                "(Set NOVAMEM_BOOTSTRAP_ADMIN_EMAIL / NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD to choose them instead.)\n"
            )
        return user
