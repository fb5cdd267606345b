// The documents a service asks for: one file input per kind, each file uploaded as soon as it
// is chosen (POST /api/v1/documents), so the application itself only names the uploaded ids.
//
// AttachedDocuments lists what a request carries and ResultDocument the officer's result, for
// the officer and the applicant, each with a download button: the bytes are fetched with the
// bearer token (a plain link would carry none) and saved from a blob: URL under the file's
// name, so nothing but the portal's own origin is ever asked.
//
// XMLHttpRequest rather than fetch: fetch reports no upload progress, and a scan of an
// identity card on a phone's connection takes long enough that the resident must see it move.
import { useState } from "react";
import { api, unwrap, type Schemas } from "./api/client";
import { toApiError } from "./api/problem";
import { userManager } from "./auth";
import { currentLang, useI18n, type Lang } from "./i18n";

export type RequiredDocument = Schemas["StateServiceFlat"]["required_documents"][number];
export type UploadedDocument = Schemas["DocumentRead"];

/** What the portal accepts when a service names no types of its own. */
const DEFAULT_TYPES = ["application/pdf", "image/jpeg", "image/png"];

interface Upload {
  file?: UploadedDocument;
  loaded?: number;
  total?: number;
  error?: string;
}

/** Upload one file; resolves with the stored document, rejects with the problem's words. */
export async function uploadDocument(
  file: File,
  onProgress: (loaded: number, total: number) => void,
): Promise<UploadedDocument> {
  const user = await userManager.getUser();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${window.location.origin}/api/v1/documents`);
    if (user && !user.expired) xhr.setRequestHeader("Authorization", `Bearer ${user.access_token}`);
    xhr.setRequestHeader("Accept-Language", currentLang());
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 201) resolve(body as UploadedDocument);
      else reject(toApiError(body, xhr.status));
    };
    xhr.onerror = () => reject(toApiError(null, 0));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function formatSize(bytes: number, lang: Lang): string {
  const [value, unit] =
    bytes < 1024 ? [bytes, "byte"] : bytes < 1024 * 1024 ? [bytes / 1024, "kilobyte"] : [bytes / 1048576, "megabyte"];
  return new Intl.NumberFormat(lang, { style: "unit", unit, maximumFractionDigits: 1 }).format(value);
}

interface Props {
  documents: RequiredDocument[];
  /** The fieldset's legend (default: the service's required documents). */
  legend?: string;
  /** Called with the uploaded document of each code (absent: none yet). */
  onChange: (uploaded: Record<string, UploadedDocument>) => void;
  /** Called with whether any upload is still on its way. */
  onBusy: (busy: boolean) => void;
}

export function DocumentInputs({ documents, legend, onChange, onBusy }: Props) {
  const { t, lang } = useI18n();
  const [uploads, setUploads] = useState<Record<string, Upload>>({});
  if (!documents.length) return null;

  const update = (code: string, upload: Upload, next: Record<string, Upload>) => {
    const all = { ...next, [code]: upload };
    setUploads(all);
    const done: Record<string, UploadedDocument> = {};
    for (const [c, u] of Object.entries(all)) if (u.file) done[c] = u.file;
    onChange(done);
    onBusy(Object.values(all).some((u) => u.loaded !== undefined && !u.file && !u.error));
    return all;
  };

  const choose = async (code: string, file: File | undefined) => {
    let current = update(code, file ? { loaded: 0, total: file.size } : {}, uploads);
    if (!file) return;
    try {
      const stored = await uploadDocument(file, (loaded, total) => {
        current = update(code, { loaded, total }, current);
      });
      update(code, { file: stored }, current);
    } catch (err) {
      const problem = (err as { problem?: { detail?: string; title?: string } }).problem;
      update(code, { error: problem?.detail || problem?.title || t("common.error") }, current);
    }
  };

  return (
    <fieldset className="panel documents">
      <legend>{legend ?? t("service.documents")}</legend>
      {documents.map((d) => {
        const u = uploads[d.code] ?? {};
        const input = `doc-${d.code}`;
        const uploading = u.loaded !== undefined && !u.file && !u.error;
        return (
          <div key={d.code} className="field">
            <label htmlFor={input}>
              {d.name}
              {d.optional ? ` (${t("documents.optional")})` : ""}
            </label>
            <input
              id={input}
              type="file"
              accept={(d.content_types ?? DEFAULT_TYPES).join(",")}
              required={!d.optional}
              aria-invalid={u.error ? true : undefined}
              aria-describedby={u.error ? `${input}-error` : `${input}-status`}
              onChange={(e) => void choose(d.code, e.target.files?.[0])}
            />
            <div id={`${input}-status`} role="status" aria-live="polite">
              {uploading && (
                <>
                  <label htmlFor={`${input}-progress`}>{t("documents.uploading", { name: d.name })}</label>{" "}
                  <progress id={`${input}-progress`} value={u.loaded} max={u.total || 1} />
                </>
              )}
              {u.file && (
                <p className="hint" data-testid={`uploaded-${d.code}`}>
                  {t("documents.uploaded", { name: u.file.filename, size: formatSize(u.file.size, lang) })}
                </p>
              )}
            </div>
            {u.error && (
              <p id={`${input}-error`} className="field-error" role="alert">
                {u.error}
              </p>
            )}
          </div>
        );
      })}
    </fieldset>
  );
}

/** The code a request's result document carries (the `complete` action attaches it so). */
export const RESULT = "result";

/** Fetch a document's bytes with the caller's token and save them under its file name. */
export async function downloadDocument(doc: UploadedDocument): Promise<void> {
  const blob = unwrap(
    await api.GET("/api/v1/documents/{document_id}/content", {
      params: { path: { document_id: doc.id } },
      parseAs: "blob",
    }),
  ) as Blob;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = doc.filename;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the URL once the click is handled; a moment later it can go.
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A button that saves one document; a failure is said next to it, in the chosen language. */
export function DownloadButton({ doc, primary }: { doc: UploadedDocument; primary?: boolean }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await downloadDocument(doc);
    } catch (err) {
      const problem = (err as { problem?: { detail?: string; title?: string } }).problem;
      setError(problem?.detail || problem?.title || t("common.error"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className={primary ? "primary" : undefined}
        disabled={busy}
        aria-label={t("documents.downloadNamed", { name: doc.filename })}
        onClick={() => void save()}
      >
        {t("documents.download")}
      </button>
      {error && (
        <span className="field-error" role="alert">
          {" "}
          {error}
        </span>
      )}
    </>
  );
}

/** The documents the applicant attached, each under the name of its kind (the result apart). */
export function AttachedDocuments({ items, kinds }: { items: UploadedDocument[]; kinds: RequiredDocument[] }) {
  const { t, lang } = useI18n();
  const attached = items.filter((d) => d.code !== RESULT);
  if (!attached.length) return null;
  return (
    <section aria-labelledby="attached-title">
      <h2 id="attached-title">{t("request.documents")}</h2>
      <ul className="attached" data-testid="attached-documents">
        {attached.map((d) => (
          <li key={d.id}>
            {kinds.find((k) => k.code === d.code)?.name ?? d.code}: {d.filename}, {formatSize(d.size, lang)}{" "}
            <DownloadButton doc={d} />
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The result document the officer attached on completion, if any. */
export function ResultDocument({ items }: { items: UploadedDocument[] }) {
  const { t, lang } = useI18n();
  const results = items.filter((d) => d.code === RESULT);
  if (!results.length) return null;
  return (
    <section aria-labelledby="result-title" className="panel">
      <h2 id="result-title">{t("request.resultDocument")}</h2>
      <ul className="attached" data-testid="result-document">
        {results.map((d) => (
          <li key={d.id}>
            {d.filename}, {formatSize(d.size, lang)} <DownloadButton doc={d} primary />
          </li>
        ))}
      </ul>
    </section>
  );
}
