// An officer's view of one request and the workflow actions its status allows. Every action
// carries If-Match with the version the officer read: if another officer acted first, the
// API answers 412 and the page says so and offers to reload, instead of overwriting.
// Completing may attach a result document: uploaded as it is chosen (with progress, as the
// resident's documents are), then named by id in the action.
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, etag, unwrap, type Status } from "../api/client";
import { ApiError, fieldErrors, type Problem } from "../api/problem";
import { getServiceVersion } from "../catalog";
import { useI18n, type Key } from "../i18n";
import {
  AttachedDocuments,
  DocumentInputs,
  RESULT,
  ResultDocument,
  type RequiredDocument,
  type UploadedDocument,
} from "../documents";
import { Answers, History, RequestFacts, loadDocuments, loadHistory, loadRequest } from "../requestParts";
import { ErrorBox, Loading, useLoad } from "../ui";

type Action = "accept" | "request_info" | "approve" | "reject" | "complete";

// The contract's workflow table, officer's side.
const ALLOWED: Partial<Record<Status, Action[]>> = {
  submitted: ["accept"],
  in_review: ["request_info", "approve", "reject"],
  approved: ["complete"],
};
const NEEDS_TEXT: Partial<Record<Action, "comment" | "result">> = { request_info: "comment", complete: "result" };

export default function OfficerRequestPage() {
  const { id = "" } = useParams();
  const { t, lang } = useI18n();
  const { data, error, reload } = useLoad(async () => {
    const [request, history, documents] = await Promise.all([
      loadRequest(id),
      loadHistory(id),
      loadDocuments(id),
    ]);
    const service = await getServiceVersion(request.service_id, request.service_version, lang);
    return { request, history, documents, service };
  }, [id, lang]);
  const [chosen, setChosen] = useState<Action | null>(null);
  const [text, setText] = useState("");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [resultFile, setResultFile] = useState<UploadedDocument | null>(null);
  const [uploading, setUploading] = useState(false);

  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading />;
  const { request, history, documents, service } = data;
  const actions = ALLOWED[request.status] ?? [];
  const errors = fieldErrors(problem);

  const send = async (action: Action) => {
    setBusy(true);
    setProblem(null);
    const body =
      action === "request_info"
        ? { action, comment: text }
        : action === "complete"
          ? { action, result: text, result_document_id: resultFile?.id ?? null }
          : action === "reject"
            ? { action, reason_code: reason, comment: text || null }
            : { action };
    try {
      unwrap(
        await api.POST("/api/v1/requests/{request_id}/actions", {
          params: { path: { request_id: id }, header: { "If-Match": etag(request.version) } },
          body,
        }),
      );
      setNotice(t("officer.done", { action: t(`action.${action}` as Key) }));
      setChosen(null);
      setText("");
      setReason("");
      setResultFile(null);
      reload();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : { status: 0, title: t("common.error") });
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (chosen) void send(chosen);
  };
  const textField = chosen ? (NEEDS_TEXT[chosen] ?? (chosen === "reject" ? "comment" : null)) : null;
  const resultKind: RequiredDocument[] = [
    {
      code: RESULT,
      name: t("officer.resultFile"),
      optional: true,
      content_types: null,
      max_size_bytes: null,
      max_count: 1,
    },
  ];

  return (
    <article aria-labelledby="officer-title">
      <p>
        <Link to="/officer">{t("queue.title")}</Link>
      </p>
      <h1 id="officer-title">
        {t("request.title")} {request.number}
      </h1>
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      {problem && (
        <div role="alert" className="error">
          {problem.status === 412 ? (
            <>
              <p>
                <strong>{t("request.stale")}</strong>
              </p>
              <button type="button" onClick={() => { setProblem(null); reload(); }}>
                {t("request.reload")}
              </button>
            </>
          ) : (
            <>
              <p>
                <strong>{problem.title}</strong>
              </p>
              {problem.detail && <p>{problem.detail}</p>}
            </>
          )}
        </div>
      )}
      <RequestFacts request={request} service={service} />
      <h2>{t("request.answers")}</h2>
      <Answers data={request.form_data as Record<string, unknown>} schema={service.form_schema} />
      <ResultDocument items={documents} />
      <AttachedDocuments items={documents} kinds={service.required_documents} />
      {actions.length > 0 && (
        <section aria-labelledby="actions-title" className="panel">
          <h2 id="actions-title">{t("officer.actions")}</h2>
          <div className="actions" role="group" aria-label={t("officer.actions")}>
            {actions.map((a) =>
              NEEDS_TEXT[a] || a === "reject" ? (
                <button
                  key={a}
                  type="button"
                  aria-pressed={chosen === a}
                  onClick={() => {
                    // The form is drawn anew: a file chosen for another action is not this one's.
                    setChosen(a);
                    setResultFile(null);
                  }}
                >
                  {t(`action.${a}` as Key)}
                </button>
              ) : (
                <button key={a} type="button" className="primary" disabled={busy} onClick={() => void send(a)}>
                  {t(`action.${a}` as Key)}
                </button>
              ),
            )}
          </div>
          {chosen && (
            <form className="stack" onSubmit={submit}>
              {chosen === "reject" && (
                <div className="field">
                  <label htmlFor="reason">{t("officer.reason")}</label>
                  <select id="reason" required value={reason} onChange={(e) => setReason(e.target.value)}>
                    <option value="">{t("officer.chooseReason")}</option>
                    {service.refusal_grounds.map((g) => (
                      <option key={g.code} value={g.code}>
                        {g.text}
                      </option>
                    ))}
                  </select>
                  {errors.reason_code && <p className="field-error">{errors.reason_code.join(" ")}</p>}
                </div>
              )}
              {textField && (
                <div className="field">
                  <label htmlFor="action-text">{t(`officer.${textField}` as Key)}</label>
                  <textarea
                    id="action-text"
                    rows={3}
                    required={chosen !== "reject"}
                    value={text}
                    aria-invalid={Boolean(errors[textField])}
                    aria-describedby={errors[textField] ? "action-text-error" : undefined}
                    onChange={(e) => setText(e.target.value)}
                  />
                  {errors[textField] && (
                    <p className="field-error" id="action-text-error">
                      {errors[textField].join(" ")}
                    </p>
                  )}
                </div>
              )}
              {chosen === "complete" && (
                <DocumentInputs
                  documents={resultKind}
                  legend={t("request.resultDocument")}
                  onChange={(uploaded) => setResultFile(uploaded[RESULT] ?? null)}
                  onBusy={setUploading}
                />
              )}
              <button type="submit" className="primary" disabled={busy || uploading}>
                {t("officer.confirm", { action: t(`action.${chosen}` as Key) })}
              </button>
            </form>
          )}
        </section>
      )}
      <History entries={history} />
    </article>
  );
}
