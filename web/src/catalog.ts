// The catalog in one language: with ?lang= the catalog answers plain strings (the form
// schema's titles taken from x-title), which is what a page in that language shows.
import { api, unwrap, type Schemas } from "./api/client";
import type { Lang } from "./i18n";

export type Offering = Schemas["StateServiceFlat"];

export async function listServices(lang: Lang, q: string): Promise<Offering[]> {
  const page = unwrap(
    await api.GET("/api/v1/services", { params: { query: { lang, q: q || undefined, limit: 200 } } }),
  );
  return page.items as Offering[];
}

export async function getService(id: string, lang: Lang): Promise<Offering> {
  return unwrap(
    await api.GET("/api/v1/services/{service_id}", { params: { path: { service_id: id }, query: { lang } } }),
  ) as Offering;
}

/** The version a request was made against: its form and refusal grounds are the ones that apply. */
export async function getServiceVersion(id: string, version: number, lang: Lang): Promise<Offering> {
  return unwrap(
    await api.GET("/api/v1/services/{service_id}/versions/{number}", {
      params: { path: { service_id: id, number: version }, query: { lang } },
    }),
  ) as Offering;
}
