// A resident's registration: the IIN is checked as they type (the same rule as identity's),
// and the API's own verdict on each field is shown next to that field, in their language.
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { ApiError, fieldErrors, type Problem } from "../api/problem";
import { signIn } from "../auth";
import { useI18n, type Key } from "../i18n";
import { iinProblem } from "../kz";

const FIELDS = [
  { name: "iin", type: "text", autoComplete: "off", inputMode: "numeric" as const },
  { name: "given_name", type: "text", autoComplete: "given-name" },
  { name: "family_name", type: "text", autoComplete: "family-name" },
  { name: "email", type: "email", autoComplete: "email" },
  { name: "phone", type: "tel", autoComplete: "tel" },
  { name: "password", type: "password", autoComplete: "new-password" },
] as const;
type Field = (typeof FIELDS)[number]["name"];

export default function RegisterPage() {
  const { t, lang } = useI18n();
  const [values, setValues] = useState<Record<Field, string>>({
    iin: "", given_name: "", family_name: "", email: "", phone: "+7", password: "",
  });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const iinHint = values.iin ? iinProblem(values.iin) : null;
  const server = fieldErrors(problem);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (iinProblem(values.iin)) return;
    setBusy(true);
    setProblem(null);
    try {
      unwrap(await api.POST("/api/v1/residents", { body: values }));
      setDone(true);
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : { status: 0, title: t("common.error") });
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    return (
      <section aria-labelledby="reg-title">
        <h1 id="reg-title">{t("register.doneTitle")}</h1>
        <p role="status">{t("register.done")}</p>
        <button type="button" className="primary" onClick={() => void signIn("/requests", lang)}>
          {t("nav.signIn")}
        </button>
      </section>
    );
  }
  const general = problem && !problem.errors?.length ? problem : null;
  return (
    <section aria-labelledby="reg-title">
      <h1 id="reg-title">{t("register.title")}</h1>
      {general && (
        <div role="alert" className="error">
          <p>{general.detail ?? general.title}</p>
        </div>
      )}
      <form className="stack" onSubmit={submit} noValidate>
        {FIELDS.map((f) => {
          const errors = [
            ...(f.name === "iin" && iinHint ? [t(iinHint as Key)] : []),
            ...(server[f.name] ?? []),
          ];
          const hint = f.name === "iin" || f.name === "phone" ? t(`register.${f.name}Hint` as Key) : null;
          const described = [hint && `${f.name}-hint`, errors.length && `${f.name}-error`].filter(Boolean).join(" ");
          return (
            <div className="field" key={f.name}>
              <label htmlFor={f.name}>{t(`register.${f.name}` as Key)}</label>
              {hint && (
                <p className="hint" id={`${f.name}-hint`}>
                  {hint}
                </p>
              )}
              <input
                id={f.name}
                name={f.name}
                type={f.type}
                autoComplete={f.autoComplete}
                inputMode={"inputMode" in f ? f.inputMode : undefined}
                maxLength={f.name === "iin" ? 12 : undefined}
                required
                value={values[f.name]}
                aria-invalid={errors.length > 0}
                aria-describedby={described || undefined}
                onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
              />
              {errors.length > 0 && (
                <p className="field-error" id={`${f.name}-error`} aria-live="polite">
                  {errors.join(" ")}
                </p>
              )}
            </div>
          );
        })}
        <button type="submit" className="primary" disabled={busy}>
          {t("register.submit")}
        </button>
      </form>
    </section>
  );
}
