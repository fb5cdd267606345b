"""Bearer tokens at the edge, parsed and verified exactly as the services do it.

A token is checked wherever one is sent, so an invalid one never reaches a
service, even on a public route. Other schemes pass (a client's Basic
credentials are for the token endpoint: identity checks them).
"""

from __future__ import annotations

from portal_shared.auth import Principal, TokenVerifier, parse_bearer
from portal_shared.errors import Unauthorized


async def edge_principal(
    verifier: TokenVerifier, authorization: str | None, *, public: bool
) -> Principal | None:
    """The verified caller, None on a public route without a token, else 401."""
    token = parse_bearer(authorization, other_schemes=True)
    if token is not None:
        # The verifier keeps what it verified (until expiry, while its key is published),
        # so a client's repeated calls cost a dictionary lookup here.
        return await verifier.verify_bearer(token)
    if not public:
        raise Unauthorized(
            message_key="error.bearer-needed", headers={"WWW-Authenticate": "Bearer"}
        )
    return None
