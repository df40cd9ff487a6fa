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
  /** Ids whose version and paused flag were read from the DB since the last `markStale()`. */
  private readonly fresh = new Set<string>();

  constructor(private readonly store: Store) {}

  /** Makes the next `load` of each DAG read its version and paused flag from the DB again. */
  markStale(): void {
    this.fresh.clear();
  }

  /** Each DAG id asked for, as of the last `markStale()`; unknown ids are left out. */
  async load(dagIds: Iterable<string>): Promise<Map<string, CachedDag>> {
    const ids = [...new Set(dagIds)];
    const out = new Map<string, CachedDag>();
    const toRead = ids.filter((id) => !this.fresh.has(id));
    for (const id of ids) {
      const cached = this.byId.get(id);
      if (cached && this.fresh.has(id)) out.set(id, cached);
    }
    if (toRead.length === 0) return out;
    const rows = await this.store.db
      .selectFrom("dag")
      .select(["dag_id", "dag_hash", "is_paused", "module_path"])
      .where("dag_id", "in", toRead)
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
      this.fresh.add(row.dag_id);
      out.set(row.dag_id, cached);
    }
    return out;
  }
}
