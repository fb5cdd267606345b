// Any path the app does not know.
import { Link } from "react-router";
import { useI18n } from "../i18n";

export default function NotFoundPage() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t("notFound.title")}</h1>
      <p>
        <Link to="/">{t("nav.backToCatalog")}</Link>
      </p>
    </section>
  );
}
