// The frame of every page: skip link, header with navigation by role, language switch,
// sign-in state, the count of unread messages; the main landmark gets focus on navigation so
// keyboard users start there.
import { useEffect, useRef, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router";
import { signIn, signOut, useSession } from "./auth";
import { LANGS, useI18n, type Key } from "./i18n";
import { useUnread } from "./notifications";

interface NavItem {
  to: string;
  label: Key;
  role?: "resident" | "officer";
  /** Shown to anyone signed in, whatever their role. */
  signedIn?: boolean;
}

// One list of the app's sections.
const NAV: NavItem[] = [
  { to: "/", label: "nav.catalog" },
  { to: "/requests", label: "nav.myRequests", role: "resident" },
  { to: "/officer", label: "nav.queue", role: "officer" },
  { to: "/notifications", label: "nav.notifications", signedIn: true },
];

export function Layout({ children }: { children: ReactNode }) {
  const { t, lang, setLang } = useI18n();
  const session = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const unread = useUnread();
  const { refresh } = unread;
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
    refresh();
  }, [location.pathname, refresh]);
  const items = NAV.filter(
    (n) => (!n.role || session.roles.includes(n.role)) && (!n.signedIn || session.user !== null),
  );
  return (
    <>
      <a className="skip" href="#main">
        {t("nav.skip")}
      </a>
      <header className="top">
        <div className="brand">
          <NavLink to="/">{t("app.title")}</NavLink>
        </div>
        <nav aria-label={t("nav.label")}>
          <ul>
            {items.map((n) => (
              <li key={n.to}>
                <NavLink to={n.to} end>
                  {t(n.label)}
                  {n.to === "/notifications" && unread.count ? (
                    <>
                      {" "}
                      <span className="count" aria-hidden="true" data-testid="unread-count">
                        {unread.count > 99 ? "99+" : unread.count}
                      </span>
                      <span className="sr-only">{t("nav.unread", { count: unread.count })}</span>
                    </>
                  ) : null}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          {session.user ? (
            <>
              <span className="who" data-testid="who">
                {String(session.user.profile.given_name ?? session.user.profile.preferred_username ?? "")}
              </span>
              <button type="button" onClick={() => void signOut()}>
                {t("nav.signOut")}
              </button>
            </>
          ) : (
            <>
              <NavLink to="/register">{t("nav.register")}</NavLink>
              <button type="button" onClick={() => void signIn(location.pathname + location.search, lang)}>
                {t("nav.signIn")}
              </button>
            </>
          )}
        </div>
        <div className="langs" role="group" aria-label={t("lang.label")}>
          {LANGS.map((l) => (
            <button
              key={l}
              type="button"
              lang={l}
              aria-pressed={l === lang}
              onClick={() => setLang(l)}
            >
              {t(`lang.${l}` as Key)}
            </button>
          ))}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
      <footer className="bottom">
        <p>{t("app.footer")}</p>
      </footer>
    </>
  );
}
