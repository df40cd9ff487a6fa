/** Audit log entries (Airflow's `log` table) for changes made from the CLI. Never holds secret values. */
import type { Store } from "../store/db.js";

export async function auditEvent(store: Store, event: string, extra: string | null = null): Promise<void> {
  await store.db.insertInto("event_log").values({ dttm: Date.now(), event, dag_id: null, run_id: null, task_id: null, owner: "cli", extra }).execute();
}
