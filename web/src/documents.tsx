// The documents a service asks for. Upload (POST /api/v1/documents, with progress) joins
// here once the requests service takes documents; until then the list tells the resident
// what the agency will ask for.
import { useI18n } from "./i18n";

export interface RequiredDocument {
  code: string;
  name: string;
}

export function RequiredDocuments({ documents }: { documents: RequiredDocument[] }) {
  const { t } = useI18n();
  if (!documents.length) return null;
  return (
    <section aria-labelledby="docs-title" className="panel">
      <h2 id="docs-title">{t("service.documents")}</h2>
      <ul>
        {documents.map((d) => (
          <li key={d.code}>{d.name}</li>
        ))}
      </ul>
      <p className="hint">{t("apply.documentsNote")}</p>
    </section>
  );
}
