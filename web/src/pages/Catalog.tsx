// Home: the catalog of state services, searchable, in the chosen language.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { listServices } from "../catalog";
import { useI18n } from "../i18n";
import { ErrorBox, Loading, useFormat, useLoad } from "../ui";

export function CatalogPage() {
  const { t, lang } = useI18n();
  const fmt = useFormat();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [text, setText] = useState(q);
  const { data, error } = useLoad(() => listServices(lang, q), [lang, q]);
  const search = (e: FormEvent) => {
    e.preventDefault();
    setParams(text.trim() ? { q: text.trim() } : {});
  };
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">{t("catalog.title")}</h1>
      <p>{t("catalog.intro")}</p>
      <form role="search" className="search" onSubmit={search}>
        <label htmlFor="q">{t("catalog.search")}</label>
        <input id="q" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">{t("catalog.searchButton")}</button>
      </form>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && (
        <>
          <p role="status">{t("catalog.found", { count: data.length })}</p>
          <ul className="cards">
            {data.map((s) => (
              <li key={s.id} className="card">
                <h2>
                  <Link to={`/services/${s.id}`}>{s.name}</Link>
                </h2>
                <p>{s.description}</p>
                <dl className="facts">
                  <div>
                    <dt>{t("service.term")}</dt>
                    <dd>{t("service.termDays", { days: s.term_working_days })}</dd>
                  </div>
                  <div>
                    <dt>{t("service.fee")}</dt>
                    <dd>{s.fee.amount === 0 ? t("service.free") : fmt.money(s.fee.amount)}</dd>
                  </div>
                </dl>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
