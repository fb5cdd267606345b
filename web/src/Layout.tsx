// The frame of every page: skip link, header with navigation by role, language switch,
// sign-in state; the main landmark gets focus on navigation so keyboard users start there.
import { useEffect, useRef, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router";
import { signIn, signOut, useSession } from "./auth";
import { LANGS, useI18n, type Key } from "./i18n";

interface NavItem {
  to: string;
  label: Key;
  role?: "resident" | "officer";
}

// One list of the app's sections: the notifications inbox joins it as one more entry.
const NAV: NavItem[] = [
  { to: "/", label: "nav.catalog" },
  { to: "/requests", label: "nav.myRequests", role: "resident" },
  { to: "/officer", label: "nav.queue", role: "officer" },
];

export function Layout({ children }: { children: ReactNode }) {
  const { t, lang, setLang } = useI18n();
  const session = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [location.pathname]);
  const items = NAV.filter((n) => !n.role || session.roles.includes(n.role));
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
