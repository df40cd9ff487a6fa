/**
 * Calls to Aloft's API with the session cookie. Changes carry the CSRF token the login set in the
 * `aloft_csrf` cookie; a 401 sends the app back to the login page.
 */

/** An API error: the problem body's title and detail, readable as one message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What to show of a failure: an Error's message (an ApiError's is the problem's detail). */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

type Listener = () => void;
const onUnauthorized = new Set<Listener>();

/** Called when a request comes back 401 (the session ended or was never there). */
export function whenUnauthorized(listener: Listener): () => void {
  onUnauthorized.add(listener);
  return () => onUnauthorized.delete(listener);
}

function csrfToken(): string {
  const match = /(?:^|;\s*)aloft_csrf=([^;]+)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]!) : "";
}

/** The problem body as one line: 422's list of {loc, msg} becomes "body.conf: must be object". */
function problemMessage(status: number, body: unknown): string {
  if (body && typeof body === "object") {
    const { title, detail } = body as { title?: string; detail?: unknown };
    if (Array.isArray(detail)) {
      const parts = detail.map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg ?? "invalid"}`);
      return `${title ?? status}: ${parts.join("; ")}`;
    }
    if (typeof detail === "string") return detail;
    if (title) return title;
  }
  return `request failed with status ${status}`;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  body?: unknown;
  query?: Record<string, string | number | boolean | string[] | undefined>;
}

/** The query string, with repeated keys for arrays (`tags=a&tags=b`) as the API expects. */
export function queryString(query: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrfToken();
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path + queryString(options.query), {
    method,
    headers,
    credentials: "same-origin",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const body: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/auth/")) for (const listener of onUnauthorized) listener();
    throw new ApiError(response.status, problemMessage(response.status, body));
  }
  return body as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `/api/v2/dags/a%2Fb`: ids go into paths encoded, never as raw text. */
export const enc = encodeURIComponent;
