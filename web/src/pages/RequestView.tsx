// A resident's application: facts, answers, documents, history; when the agency asks for
// information, the officer's question and the form to answer it (resubmit), sent with
// If-Match; once completed, the result document to download.
import { useState } from "react";
import { Link, useLocation, useParams } from "react-router";
import { api, etag, unwrap } from "../api/client";
import { ApiError, type Problem } from "../api/problem";
import { getServiceVersion } from "../catalog";
import { SchemaForm } from "../forms";
import { AttachedDocuments, ResultDocument } from "../documents";
import { useI18n } from "../i18n";
import { Answers, History, RequestFacts, loadDocuments, loadHistory, loadRequest } from "../requestParts";
import { ErrorBox, Loading, useLoad } from "../ui";

export default function RequestPage() {
  const { id = "" } = useParams();
  const { t, lang } = useI18n();
  const location = useLocation();
  const { data, error, reload } = useLoad(async () => {
    const [request, history, documents] = await Promise.all([
      loadRequest(id),
      loadHistory(id),
      loadDocuments(id),
    ]);
    const service = await getServiceVersion(request.service_id, request.service_version, lang);
    return { request, history, documents, service };
  }, [id, lang]);
  const [answer, setAnswer] = useState<Record<string, unknown> | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(
    (location.state as { created?: boolean } | null)?.created ? t("apply.created") : null,
  );

  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading />;
  const { request, history, documents, service } = data;
  const question = [...history].reverse().find((h) => h.action === "request_info");

  const act = async (body: { action: "resubmit"; form_data: Record<string, unknown> } | { action: "cancel" }) => {
    setBusy(true);
    setProblem(null);
    try {
      unwrap(
        await api.POST("/api/v1/requests/{request_id}/actions", {
          params: { path: { request_id: id }, header: { "If-Match": etag(request.version) } },
          body,
        }),
      );
      setNotice(body.action === "resubmit" ? t("request.resubmitted") : t("request.cancelled"));
      setAnswer(null);
      reload();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : { status: 0, title: t("common.error") });
    } finally {
      setBusy(false);
    }
  };

  const cancellable = ["submitted", "in_review", "needs_info"].includes(request.status);
  return (
    <article aria-labelledby="request-title">
      <p>
        <Link to="/requests">{t("myRequests.title")}</Link>
      </p>
      <h1 id="request-title">
        {t("request.title")} {request.number}
      </h1>
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      {problem && (
        <div role="alert" className="error">
          <p>
            <strong>{problem.status === 412 ? t("request.stale") : problem.title}</strong>
          </p>
          {problem.status !== 412 && problem.detail && <p>{problem.detail}</p>}
        </div>
      )}
      <RequestFacts request={request} service={service} />
      <ResultDocument items={documents} />
      {request.status === "needs_info" && (
        <section aria-labelledby="answer-title" className="panel">
          <h2 id="answer-title">{t("request.infoRequested")}</h2>
          {question?.comment && <blockquote data-testid="question">{question.comment}</blockquote>}
          <SchemaForm
            schema={service.form_schema}
            formData={answer ?? (request.form_data as Record<string, unknown>)}
            onChange={setAnswer}
            onSubmit={(d) => void act({ action: "resubmit", form_data: d })}
            problem={problem}
            submitText={t("request.resubmit")}
            busy={busy}
          />
        </section>
      )}
      <h2>{t("request.answers")}</h2>
      <Answers data={request.form_data as Record<string, unknown>} schema={service.form_schema} />
      <AttachedDocuments items={documents} kinds={service.required_documents} />
      <History entries={history} />
      {cancellable && (
        <p>
          <button type="button" className="danger" disabled={busy} onClick={() => void act({ action: "cancel" })}>
            {t("request.cancel")}
          </button>
        </p>
      )}
    </article>
  );
}
