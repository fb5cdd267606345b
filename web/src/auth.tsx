// Sign-in with the portal's OpenID provider (identity, behind the gateway at /auth):
// authorization code flow with PKCE for the public client `portal-web`, and silent renewal
// with the refresh token (identity rotates it on every use; oidc-client-ts keeps the new one).
// The redirect URI is this origin's /callback, registered for the demo client.
import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

const origin = window.location.origin;

export const userManager = new UserManager({
  authority: `${origin}/auth`,
  client_id: "portal-web",
  redirect_uri: `${origin}/callback`,
  post_logout_redirect_uri: `${origin}/`,
  response_type: "code",
  // The API scopes this app uses, asked for by name: a token holds only what was asked for,
  // and every API operation requires its scope.
  scope:
    "openid profile email offline_access requests:read requests:write documents:read documents:write" +
    " notifications:read notifications:write",
  automaticSilentRenew: true,
  loadUserInfo: false,
  // Tokens live in this tab's session only, never in localStorage.
  userStore: new WebStorageStateStore({ store: window.sessionStorage }),
});

export interface Session {
  user: User | null;
  roles: string[];
  agencyId: string | null;
  subject: string | null;
  ready: boolean;
}

/** The access token's claims the UI needs (roles, agency); the API enforces them anyway. */
function claims(user: User | null): { roles: string[]; agencyId: string | null; subject: string | null } {
  if (!user) return { roles: [], agencyId: null, subject: null };
  try {
    const payload = user.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const data = JSON.parse(atob(payload)) as { roles?: string[]; agency_id?: string; sub?: string };
    return { roles: data.roles ?? [], agencyId: data.agency_id ?? null, subject: data.sub ?? null };
  } catch {
    return { roles: [], agencyId: null, subject: null };
  }
}

const SessionContext = createContext<Session>({ user: null, roles: [], agencyId: null, subject: null, ready: false });

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    userManager.getUser().then((u) => {
      setUser(u && !u.expired ? u : null);
      setReady(true);
    });
    const loaded = (u: User) => setUser(u);
    const unloaded = () => setUser(null);
    userManager.events.addUserLoaded(loaded);
    userManager.events.addUserUnloaded(unloaded);
    userManager.events.addSilentRenewError(unloaded);
    return () => {
      userManager.events.removeUserLoaded(loaded);
      userManager.events.removeUserUnloaded(unloaded);
      userManager.events.removeSilentRenewError(unloaded);
    };
  }, []);
  const session = useMemo(() => ({ user, ready, ...claims(user) }), [user, ready]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}

/** Start the code flow; `returnTo` is where the app goes once signed in. */
export function signIn(returnTo: string, lang: string): Promise<void> {
  return userManager.signinRedirect({ state: { returnTo }, ui_locales: lang });
}

export async function signOut(): Promise<void> {
  const user = await userManager.getUser();
  if (user?.refresh_token) {
    // Revoking the refresh token ends the whole family at the provider, not just this tab.
    await userManager.revokeTokens(["refresh_token"]).catch(() => undefined);
  }
  await userManager.removeUser();
  await userManager.signoutRedirect({ id_token_hint: user?.id_token }).catch(() => {
    window.location.assign("/");
  });
}
