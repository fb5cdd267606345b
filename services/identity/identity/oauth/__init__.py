"""OAuth 2.0 / OIDC on authlib's server classes, with a small Starlette adapter.

authlib's server is synchronous, so every call into it runs in a worker thread
(`run_in_threadpool`). Its storage hooks need the request's async database
session; they hop back onto the event loop with `anyio.from_thread.run`, so the
session is only ever used from the loop, inside the request's one transaction.
A server object is built per request around an `OAuthContext` (session,
settings, the signing key), which keeps the hooks free of globals.

RFC 9700 / OAuth 2.1 choices: PKCE with S256 is required for every client at
the authorize endpoint (plain refused); redirect URIs match exactly; codes are
single-use, live at most 60 s and are claimed atomically, and a replayed code
revokes what it issued; refresh tokens rotate on every use and a spent one
revokes its family; the authorization response carries `iss` (RFC 9207); no
implicit or password grant is registered.

The modules, by what makes them change:

- `entities`: what authlib sees (client, user, code, refresh token, a token found again);
- `adapter`: Starlette requests in, authlib answers out;
- `context`: the per-request session, settings and key the hooks use;
- `store`: codes and refresh tokens in the database;
- `tokens`: issuing and reading our JWTs and their claims;
- `revocation`: finding and revoking tokens and grants;
- `grants`, `endpoints`, `server`: the authlib wiring.
"""

from identity.oauth.adapter import AuthlibResponse, StarletteOAuth2Request
from identity.oauth.context import OAuthContext
from identity.oauth.entities import User
from identity.oauth.server import PortalAuthorizationServer
from identity.oauth.tokens import decode_own_jwt, user_claims

__all__ = [
    "AuthlibResponse",
    "OAuthContext",
    "PortalAuthorizationServer",
    "StarletteOAuth2Request",
    "User",
    "decode_own_jwt",
    "user_claims",
]
