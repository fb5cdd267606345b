// What residents and officers both see of a request: its facts, its answers and its history.
import { api, unwrap, type HistoryEntry, type Request } from "./api/client";
import type { Offering } from "./catalog";
import type { UploadedDocument } from "./documents";
import { useI18n, type Key } from "./i18n";
import { StatusBadge, useFormat } from "./ui";

export async function loadHistory(id: string): Promise<HistoryEntry[]> {
  const page = unwrap(
    await api.GET("/api/v1/requests/{request_id}/history", {
      params: { path: { request_id: id }, query: { limit: 200 } },
    }),
  );
  return page.items;
}

export async function loadDocuments(id: string): Promise<UploadedDocument[]> {
  const list = unwrap(
    await api.GET("/api/v1/requests/{request_id}/documents", { params: { path: { request_id: id } } }),
  );
  return list.items;
}

export async function loadRequest(id: string): Promise<Request> {
  return unwrap(await api.GET("/api/v1/requests/{request_id}", { params: { path: { request_id: id } } }));
}

export function RequestFacts({ request, service }: { request: Request; service: Offering | null }) {
  const { t } = useI18n();
  const fmt = useFormat();
  const ground = service?.refusal_grounds.find((g) => g.code === request.reason_code);
  return (
    <dl className="standard">
      <dt>{t("request.service")}</dt>
      <dd>{service?.name ?? "…"}</dd>
      <dt>{t("request.status")}</dt>
      <dd data-testid="status">
        <StatusBadge status={request.status} />
        {request.overdue && <span className="badge overdue">{t("request.overdue")}</span>}
      </dd>
      <dt>{t("request.submitted")}</dt>
      <dd>{fmt.dateTime(request.submitted_at)}</dd>
      <dt>{t("request.due")}</dt>
      <dd>{fmt.date(request.due_date)}</dd>
      {request.reason_code && (
        <>
          <dt>{t("request.reason")}</dt>
          <dd>{ground?.text ?? request.reason_code}</dd>
        </>
      )}
      {request.result && (
        <>
          <dt>{t("request.result")}</dt>
          <dd>{request.result}</dd>
        </>
      )}
    </dl>
  );
}

/** The answers, labelled with the form's own (translated) titles. */
export function Answers({ data, schema }: { data: Record<string, unknown>; schema: Record<string, unknown> | undefined }) {
  const properties = (schema?.properties ?? {}) as Record<string, { title?: string; properties?: Record<string, unknown> }>;
  // In the form's own order, then anything the schema does not name.
  const order = [...Object.keys(properties), ...Object.keys(data ?? {})];
  const entries = [...new Set(order)].filter((k) => k in (data ?? {})).map((k) => [k, data[k]] as const);
  if (!entries.length) return null;
  return (
    <dl className="answers">
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt>{properties[key]?.title ?? key}</dt>
          <dd>
            {value && typeof value === "object" ? (
              <Answers data={value as Record<string, unknown>} schema={properties[key]} />
            ) : (
              String(value)
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function History({ entries }: { entries: HistoryEntry[] }) {
  const { t } = useI18n();
  const fmt = useFormat();
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">{t("request.history")}</h2>
      <ol className="history">
        {entries.map((h) => (
          <li key={h.version}>
            <time dateTime={h.at}>{fmt.dateTime(h.at)}</time> — <strong>{t(`action.${h.action}` as Key)}</strong>
            {": "}
            <StatusBadge status={h.to_status} />
            {h.comment && <blockquote>{h.comment}</blockquote>}
          </li>
        ))}
      </ol>
    </section>
  );
}
