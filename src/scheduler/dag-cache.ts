/** Serialized DAGs read from the DB, parsed once per version (dag_hash). */
import type { SerializedDag, SerializedTask } from "../dag/types.js";
import type { Store } from "../store/db.js";

export interface CachedDag {
  dag: SerializedDag;
  tasks: Map<string, SerializedTask>;
  modulePath: string;
  isPaused: boolean;
  hash: string;
}

export class DagCache {
  private readonly byId = new Map<string, CachedDag>();

  constructor(private readonly store: Store) {}

  /** The current version of each DAG id asked for; unknown ids are left out. */
  async load(dagIds: Iterable<string>): Promise<Map<string, CachedDag>> {
    const ids = [...new Set(dagIds)];
    const out = new Map<string, CachedDag>();
    if (ids.length === 0) return out;
    const rows = await this.store.db
      .selectFrom("dag")
      .select(["dag_id", "dag_hash", "is_paused", "module_path"])
      .where("dag_id", "in", ids)
      .execute();
    const stale = rows.filter((r) => this.byId.get(r.dag_id)?.hash !== r.dag_hash).map((r) => r.dag_id);
    if (stale.length > 0) {
      const full = await this.store.db.selectFrom("dag").selectAll().where("dag_id", "in", stale).execute();
      for (const row of full) {
        const dag = JSON.parse(row.serialized) as SerializedDag;
        this.byId.set(row.dag_id, {
          dag,
          tasks: new Map(dag.tasks.map((t) => [t.taskId, t])),
          modulePath: row.module_path,
          isPaused: row.is_paused === 1,
          hash: row.dag_hash,
        });
      }
    }
    for (const row of rows) {
      const cached = this.byId.get(row.dag_id);
      if (!cached) continue;
      cached.isPaused = row.is_paused === 1;
      cached.modulePath = row.module_path;
      out.set(row.dag_id, cached);
    }
    return out;
  }
}
