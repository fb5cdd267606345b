// The officer's queue: the agency's requests, filtered by status, overdue first or by date,
// due date up to a day. The filters live in the URL, so a filtered queue can be bookmarked.
import { Link, useSearchParams } from "react-router";
import { api, unwrap, type Status } from "../api/client";
import { signIn, useSession } from "../auth";
import { listServices } from "../catalog";
import { useI18n, type Key } from "../i18n";
import { ErrorBox, Loading, StatusBadge, useFormat, useLoad } from "../ui";

const STATUSES: Status[] = ["submitted", "in_review", "needs_info", "approved", "rejected", "completed", "cancelled"];
const ORDERS = ["overdue_first", "-submitted_at", "submitted_at", "updated_at"] as const;
type Order = (typeof ORDERS)[number];

export default function QueuePage() {
  const { t, lang } = useI18n();
  const fmt = useFormat();
  const session = useSession();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const order = (ORDERS as readonly string[]).includes(params.get("order") ?? "") ? (params.get("order") as Order) : "overdue_first";
  const dueTo = params.get("due_to") ?? "";
  const overdueOnly = params.get("overdue") === "true";
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };
  const { data, error } = useLoad(async () => {
    if (!session.roles.includes("officer")) return null;
    const [page, services] = await Promise.all([
      api
        .GET("/api/v1/requests", {
          params: {
            query: {
              status: status ? [status as Status] : undefined,
              order,
              due_to: dueTo || undefined,
              overdue: overdueOnly ? true : undefined,
              limit: 100,
            },
          },
        })
        .then(unwrap),
      listServices(lang, ""),
    ]);
    return { items: page.items, names: new Map(services.map((s) => [s.id, s.name])) };
  }, [session.user?.access_token, status, order, dueTo, overdueOnly, lang]);

  if (!session.ready) return <Loading />;
  if (!session.roles.includes("officer")) {
    return (
      <section>
        <h1>{t("queue.title")}</h1>
        <p>{t("queue.officersOnly")}</p>
        {!session.user && (
          <button type="button" className="primary" onClick={() => void signIn("/officer", lang)}>
            {t("nav.signIn")}
          </button>
        )}
      </section>
    );
  }
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">{t("queue.title")}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("queue.filters")}>
        <div className="field">
          <label htmlFor="f-status">{t("queue.status")}</label>
          <select id="f-status" value={status} onChange={(e) => set("status", e.target.value)}>
            <option value="">{t("queue.any")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}` as Key)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-order">{t("queue.order")}</label>
          <select id="f-order" value={order} onChange={(e) => set("order", e.target.value)}>
            {ORDERS.map((o) => (
              <option key={o} value={o}>
                {t(`order.${o}` as Key)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-due">{t("queue.dueTo")}</label>
          <input id="f-due" type="date" value={dueTo} onChange={(e) => set("due_to", e.target.value)} />
        </div>
        <div className="field check">
          <input
            id="f-overdue"
            type="checkbox"
            checked={overdueOnly}
            onChange={(e) => set("overdue", e.target.checked ? "true" : "")}
          />
          <label htmlFor="f-overdue">{t("queue.overdueOnly")}</label>
        </div>
      </form>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && data.items.length === 0 && <p role="status">{t("queue.empty")}</p>}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>{t("queue.caption", { count: data.items.length })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("request.number")}</th>
                <th scope="col">{t("request.service")}</th>
                <th scope="col">{t("request.status")}</th>
                <th scope="col">{t("request.submitted")}</th>
                <th scope="col">{t("request.due")}</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((r) => (
                <tr key={r.id} className={r.overdue ? "overdue" : undefined}>
                  <td>
                    <Link to={`/officer/requests/${r.id}`}>{r.number}</Link>
                  </td>
                  <td>{data.names.get(r.service_id) ?? ""}</td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{fmt.dateTime(r.submitted_at)}</td>
                  <td>
                    {fmt.date(r.due_date)}
                    {r.overdue && <span className="badge overdue">{t("request.overdue")}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
