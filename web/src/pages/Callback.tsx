// Where the provider sends the browser back with the code: exchange it (PKCE), then go
// where the sign-in started, or to the officer's queue.
import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { userManager } from "../auth";
import { useI18n } from "../i18n";
import { Loading } from "../ui";

export default function CallbackPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [failed, setFailed] = useState(false);
  const once = useRef(false);
  useEffect(() => {
    // The code is single-use: StrictMode's second effect run must not spend it again.
    if (once.current) return;
    once.current = true;
    userManager.signinRedirectCallback().then(
      (user) => {
        const state = user.state as { returnTo?: string } | undefined;
        const roles = (JSON.parse(atob(user.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { roles?: string[] }).roles ?? [];
        let to = state?.returnTo ?? "/";
        if (to === "/" || to === "/callback" || to === "/register") to = roles.includes("officer") ? "/officer" : "/requests";
        navigate(to, { replace: true });
      },
      () => setFailed(true),
    );
  }, [navigate]);
  if (failed) {
    return (
      <div role="alert" className="error">
        <p>{t("auth.failed")}</p>
      </div>
    );
  }
  return <Loading />;
}
