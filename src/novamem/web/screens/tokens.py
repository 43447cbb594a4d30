"""API tokens: list, mint (the plaintext shown once, with the agent configurations), revoke.

The same request model and service calls as `/v1/me/tokens`. A minted token is rendered from the POST
itself (never redirected, never put in a flash cookie), so it exists in that one answer only. Restricted
credentials never mint: the screen mirrors `POST /v1/me/tokens`, whose route rule refuses them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from novamem.domain.entries import iso
from novamem.errors import Forbidden, InvalidInput, NotFound
from novamem.services.agents.connect import host_configs
from novamem.services.identity.token_models import TokenCreate
from novamem.web.forms import Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["SCREENS", "TOKENS"]

TOKENS = "/admin/tokens"


async def _list(visit: Visit, form: Form[TokenCreate], status: int = 200) -> Response:
    tokens = await visit.container.tokens.list_for_caller(visit.caller)
    projects = await visit.container.projects.list_mine(visit.caller)
    return visit.render(
        "tokens.html",
        status=status,
        tokens=tokens.tokens,
        projects=projects.projects,
        project_names={project.id: project.name for project in projects.projects},
        now=iso(datetime.now(UTC)),
        form=form,
    )


async def tokens_page(visit: Visit) -> Response:
    """Your tokens (revoked and expired ones greyed) and the mint form."""
    return await _list(visit, Form[TokenCreate].blank(scope="full"))


async def mint(visit: Visit) -> Response:
    """Mint a token; on success the page shows its plaintext once, with ready agent configurations."""
    form = await visit.form(TokenCreate)
    body = form.model
    if body is not None:
        try:
            minted = await visit.container.tokens.mint_for_caller(
                visit.caller,
                label=body.label,
                scope=body.scope,
                project=body.project,
                expires_in_days=body.expires_in_days,
            )
        except (InvalidInput, NotFound, Forbidden) as exc:
            form.fail(exc, "project")
        else:
            base_url = visit.container.settings.public_base_url
            projects = await visit.container.projects.list_mine(visit.caller)
            return visit.render(
                "token_minted.html",
                minted=minted,
                label=body.label,
                project_names={project.id: project.name for project in projects.projects},
                configs=host_configs(base_url, minted.token),
                base_url=base_url,
            )
    return await _list(visit, form, form.status)


async def revoke(visit: Visit) -> Response:
    """Revoke one of your tokens; it stops working on its next request."""
    await visit.container.tokens.revoke_own(visit.caller, visit.params["token_hash"])
    return visit.redirect(TOKENS, "Token revoked: it no longer works.")


SCREENS = (
    Screen(TOKENS, tokens_page, ("GET", "/v1/me/tokens")),
    Screen(TOKENS, mint, ("POST", "/v1/me/tokens"), method="POST"),
    Screen(TOKENS + "/{token_hash}/revoke", revoke, ("DELETE", "/v1/me/tokens/{hash}"), method="POST"),
)
