// Apply for a service: the form from the published form_schema, sent once per attempt.
//
// One Idempotency-Key per attempt: a double click or a retry after a lost answer sends the
// same key with the same body, so the API returns the one request it made. Changing the
// answers or the documents starts a new attempt with a new key (the same key with another
// body is a 409). The documents are uploaded as they are chosen; the application names them.
import { useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, unwrap } from "../api/client";
import { ApiError, type Problem } from "../api/problem";
import { signIn, useSession } from "../auth";
import { getService } from "../catalog";
import { DocumentInputs, type UploadedDocument } from "../documents";
import { SchemaForm } from "../forms";
import { useI18n } from "../i18n";
import { ErrorBox, Loading, useLoad } from "../ui";

export default function ApplyPage() {
  const { id = "" } = useParams();
  const { t, lang } = useI18n();
  const session = useSession();
  const navigate = useNavigate();
  const { data: service, error } = useLoad(() => getService(id, lang), [id, lang]);
  const [formData, setFormData] = useState<Record<string, unknown>>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [uploaded, setUploaded] = useState<Record<string, UploadedDocument>>({});
  const [uploading, setUploading] = useState(false);
  const attempt = useRef<string>(crypto.randomUUID());
  const sending = useRef(false);

  if (error) return <ErrorBox error={error} />;
  if (!service || !session.ready) return <Loading />;
  if (!session.user) {
    return (
      <section>
        <h1>{service.name}</h1>
        <p>{t("apply.signInFirst")}</p>
        <button type="button" className="primary" onClick={() => void signIn(`/services/${id}/apply`, lang)}>
          {t("nav.signIn")}
        </button>{" "}
        <Link to="/register">{t("nav.register")}</Link>
      </section>
    );
  }

  const submit = async (data: Record<string, unknown>) => {
    if (sending.current) return; // a second click while the first is on its way
    sending.current = true;
    setBusy(true);
    setProblem(null);
    try {
      const created = unwrap(
        await api.POST("/api/v1/requests", {
          body: {
            service_id: service.id,
            form_data: data,
            documents: Object.entries(uploaded).map(([code, d]) => ({ code, document_id: d.id })),
          },
          params: { header: { "Idempotency-Key": attempt.current } },
        }),
      );
      navigate(`/requests/${created.id}`, { state: { created: true } });
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : { status: 0, title: t("common.error") });
    } finally {
      sending.current = false;
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="apply-title">
      <p>
        <Link to={`/services/${id}`}>{t("apply.back")}</Link>
      </p>
      <h1 id="apply-title">{t("apply.title", { name: service.name })}</h1>
      {problem && (
        <div role="alert" className="error">
          <p>
            <strong>{problem.title}</strong>
          </p>
          {problem.detail && <p>{problem.detail}</p>}
        </div>
      )}
      <DocumentInputs
        documents={service.required_documents}
        onChange={(d) => {
          setUploaded(d);
          attempt.current = crypto.randomUUID(); // another body: another attempt
        }}
        onBusy={setUploading}
      />
      <SchemaForm
        schema={service.form_schema}
        formData={formData}
        onChange={(d) => {
          setFormData(d);
          attempt.current = crypto.randomUUID();
        }}
        onSubmit={(d) => void submit(d)}
        problem={problem}
        submitText={t("apply.submit")}
        busy={busy || uploading}
      />
    </section>
  );
}
