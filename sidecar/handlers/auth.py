"""`auth:*` channels: the Electron main process hands over a verified ID token's claims; the session lives here."""

from __future__ import annotations

from pydantic import SecretStr

from sidecar.errors import ErrorCode as E
from sidecar.governance.models import Claims, Session, SignedIn
from sidecar.governance.service import GovernanceService
from sidecar.rpc import NoParams, rpc_method
from sidecar.wiremodel import WireModel


class SignInParams(WireModel):
    claims: Claims
    # SecretStr: a validation error or a repr of these params can never print the token.
    id_token: SecretStr | None = None


class AuthHandlers:
    def __init__(self, governance: GovernanceService) -> None:
        self._governance = governance

    @rpc_method("auth:signIn", result=SignedIn, single_object=True, errors=[E.INVALID_PARAMS])
    async def sign_in(self, params: SignInParams) -> SignedIn:
        """Sign in with the verified ID token's claims.

        A first sign-in creates the person's organization, workspace, pool and default plan in one transaction.
        """
        token = params.id_token.get_secret_value() if params.id_token is not None else None
        return await self._governance.sign_in(params.claims, token)

    @rpc_method("auth:session", result=Session)
    async def session(self, params: NoParams) -> Session:
        """The current session, or `{authenticated: false}`."""
        return self._governance.session()

    @rpc_method("auth:signOut", result=None)
    async def sign_out(self, params: NoParams) -> None:
        """End the session (and forget the ID token); the pool's limits go back to the settings alone."""
        await self._governance.sign_out()
