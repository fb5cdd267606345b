// One service's standard: term, fee, required documents, result, grounds for refusal.
import { Link, useParams } from "react-router";
import { useSession } from "../auth";
import { getService } from "../catalog";
import { useI18n, type Key } from "../i18n";
import { ErrorBox, Loading, useFormat, useLoad } from "../ui";

export default function ServicePage() {
  const { id = "" } = useParams();
  const { t, lang } = useI18n();
  const fmt = useFormat();
  const session = useSession();
  const { data: s, error } = useLoad(() => getService(id, lang), [id, lang]);
  if (error) return <ErrorBox error={error} />;
  if (!s) return <Loading />;
  const canApply = s.channels.includes("portal") && !session.roles.includes("officer");
  return (
    <article aria-labelledby="service-title">
      <p>
        <Link to="/">{t("nav.backToCatalog")}</Link>
      </p>
      <h1 id="service-title">{s.name}</h1>
      <p>{s.description}</p>
      <h2>{t("service.standard")}</h2>
      <dl className="standard">
        <dt>{t("service.term")}</dt>
        <dd>{t("service.termDays", { days: s.term_working_days })}</dd>
        <dt>{t("service.fee")}</dt>
        <dd>{s.fee.amount === 0 ? t("service.free") : fmt.money(s.fee.amount)}</dd>
        <dt>{t("service.result")}</dt>
        <dd>{s.result}</dd>
        <dt>{t("service.channels")}</dt>
        <dd>{s.channels.map((c) => t(`channel.${c}` as Key)).join(", ")}</dd>
      </dl>
      <h2>{t("service.documents")}</h2>
      {s.required_documents.length ? (
        <ul>
          {s.required_documents.map((d) => (
            <li key={d.code}>{d.name}</li>
          ))}
        </ul>
      ) : (
        <p>{t("service.noDocuments")}</p>
      )}
      <h2>{t("service.refusalGrounds")}</h2>
      {s.refusal_grounds.length ? (
        <ul>
          {s.refusal_grounds.map((g) => (
            <li key={g.code}>{g.text}</li>
          ))}
        </ul>
      ) : (
        <p>{t("service.noGrounds")}</p>
      )}
      {canApply && (
        <p>
          <Link className="button primary" to={`/services/${s.id}/apply`}>
            {t("service.apply")}
          </Link>
        </p>
      )}
    </article>
  );
}
