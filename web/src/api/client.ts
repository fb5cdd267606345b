// The typed API client: openapi-fetch over the types openapi-typescript generated from the
// gateway's merged /openapi.json (scripts/openapi.py writes it at build time). Every call
// carries the signed-in user's token and the chosen language, so problems come back in it.
import createClient from "openapi-fetch";
import { userManager } from "../auth";
import { currentLang } from "../i18n";
import { toApiError } from "./problem";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Request = Schemas["RequestRead"];
export type HistoryEntry = Schemas["HistoryRead"];
export type Status = Schemas["Status"];

export const api = createClient<paths>({ baseUrl: window.location.origin });

api.use({
  async onRequest({ request }) {
    const user = await userManager.getUser();
    if (user && !user.expired) request.headers.set("Authorization", `Bearer ${user.access_token}`);
    request.headers.set("Accept-Language", currentLang());
    return request;
  },
});

/** The body of a successful answer, or an ApiError carrying the problem. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    throw toApiError(result.error, result.response.status);
  }
  return result.data;
}

/** The strong ETag a write must send back in If-Match: the version it was read at. */
export function etag(version: number): string {
  return `"${version}"`;
}
