// RFC 9457 problems from the API, and where each error belongs in a form.
// `errors[]` name their field with a JSON Pointer (`pointer`, the contract's name) or a
// dotted `location` (`body.form_data.address.street`); both become a path of segments.

export interface ProblemError {
  pointer?: string;
  location?: string;
  code?: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: ProblemError[];
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
  }
}

export function segments(error: ProblemError): string[] {
  if (error.pointer !== undefined) {
    return error.pointer
      .split("/")
      .slice(1)
      .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  }
  const parts = (error.location ?? "").replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
  return parts[0] === "body" ? parts.slice(1) : parts;
}

/** Messages by field path (`iin`, `form_data.address.street`); "" for the whole request. */
export function fieldErrors(problem: Problem | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const error of problem?.errors ?? []) {
    const key = segments(error).join(".");
    (out[key] ??= []).push(error.message);
  }
  return out;
}

/** Turn a response body into an ApiError (a problem, or the status alone). */
export function toApiError(body: unknown, status: number): ApiError {
  if (body && typeof body === "object" && "status" in body) return new ApiError(body as Problem);
  return new ApiError({ status, title: `HTTP ${status}` });
}
