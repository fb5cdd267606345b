// A resident's applications: status and due date of each, newest first.
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { signIn, useSession } from "../auth";
import { listServices } from "../catalog";
import { useI18n } from "../i18n";
import { ErrorBox, Loading, StatusBadge, useFormat, useLoad } from "../ui";

export default function MyRequestsPage() {
  const { t, lang } = useI18n();
  const fmt = useFormat();
  const session = useSession();
  const { data, error } = useLoad(async () => {
    if (!session.user) return null;
    const [page, services] = await Promise.all([
      api.GET("/api/v1/requests", { params: { query: { limit: 200 } } }).then(unwrap),
      listServices(lang, ""),
    ]);
    return { items: page.items, names: new Map(services.map((s) => [s.id, s.name])) };
  }, [session.user?.access_token, lang]);
  if (!session.ready) return <Loading />;
  if (!session.user) {
    return (
      <section>
        <h1>{t("myRequests.title")}</h1>
        <button type="button" className="primary" onClick={() => void signIn("/requests", lang)}>
          {t("nav.signIn")}
        </button>
      </section>
    );
  }
  return (
    <section aria-labelledby="mine-title">
      <h1 id="mine-title">{t("myRequests.title")}</h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && data.items.length === 0 && <p>{t("myRequests.none")}</p>}
      {data && data.items.length > 0 && (
        <ul className="cards">
          {data.items.map((r) => (
            <li key={r.id} className="card">
              <h2>
                <Link to={`/requests/${r.id}`}>{r.number}</Link>
              </h2>
              <p>{data.names.get(r.service_id) ?? ""}</p>
              <p>
                <StatusBadge status={r.status} /> {t("request.due")}: {fmt.date(r.due_date)}
              </p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
