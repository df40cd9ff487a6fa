/**
 * Login rate limiting, in the DB so that every API instance behind a load balancer counts the same
 * failures: after too many failed logins for one username, or from one client, within the window,
 * further attempts are refused (429) until the oldest failure leaves the window.
 */
import type { Store } from "../../store/db.js";

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURES_PER_USER = 5;
export const MAX_FAILURES_PER_CLIENT = 20;

/** Milliseconds until a login for `username` from `client` may be tried again; 0 when it may now. */
export async function loginBlockedFor(store: Store, username: string, client: string, now = Date.now()): Promise<number> {
  const since = now - LOGIN_WINDOW_MS;
  const wait = async (column: "username" | "client", value: string, max: number) => {
    const rows = await store.db.selectFrom("api_login_failure").select("at").where(column, "=", value).where("at", ">", since).orderBy("at", "desc").limit(max).execute();
    return rows.length < max ? 0 : Number(rows[max - 1]!.at) + LOGIN_WINDOW_MS - now;
  };
  return Math.max(await wait("username", username, MAX_FAILURES_PER_USER), await wait("client", client, MAX_FAILURES_PER_CLIENT));
}

export async function recordLoginFailure(store: Store, username: string, client: string, now = Date.now()): Promise<void> {
  await store.db.insertInto("api_login_failure").values({ username: username.slice(0, 250), client: client.slice(0, 64), at: now }).execute();
  // Old failures count for nothing: keep the table small.
  await store.db.deleteFrom("api_login_failure").where("at", "<", now - LOGIN_WINDOW_MS).execute();
}

export async function clearLoginFailures(store: Store, username: string): Promise<void> {
  await store.db.deleteFrom("api_login_failure").where("username", "=", username).execute();
}
