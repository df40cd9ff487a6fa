/**
 * DAG versions read from the DB, each parsed once (a version never changes), and which version is
 * current for each DAG, with its paused flag. A run is evaluated and run on the version it started
 * with; settings that are not about a run's structure (paused, active) are per DAG.
 */
import type { SerializedDag, SerializedTask } from "../dag/types.js";
import type { Logger } from "../logging.js";
import type { Kysely, Transaction } from "kysely";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { chunks } from "../util/chunks.js";

export interface DagVersion {
  versionId: number;
  dag: SerializedDag;
  tasks: Map<string, SerializedTask>;
  /** The compiled module that defines the version's function tasks and callbacks. */
  moduleHash: string;
}

/** A version of a DAG with the DAG's paused flag. */
export interface CachedDag extends DagVersion {
  isPaused: boolean;
}

/** What a run needs to find its version: its DAG and the version it started with (null: none recorded). */
export interface RunVersion {
  dagId: string;
  versionId: number | null;
}

/** Reads go through the store, or through the transaction of the caller that holds one. */
type Db = Kysely<Database> | Transaction<Database>;

/** Versions kept parsed; the least recently loaded go first beyond this. */
const MAX_CACHED_VERSIONS = 2_000;

export class DagCache {
  private readonly versionsById = new Map<number, DagVersion>();
  private readonly current = new Map<string, { versionId: number; isPaused: boolean }>();
  /** Ids whose current version and paused flag were read from the DB since the last `markStale()`. */
  private readonly fresh = new Set<string>();
  private readonly warnedMissing = new Set<number>();

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {}

  /** Makes the next `load` of each DAG read its current version and paused flag from the DB again. */
  markStale(): void {
    this.fresh.clear();
  }

  /** The current version of each DAG id asked for, as of the last `markStale()`; DAGs with no version are left out. */
  async load(dagIds: Iterable<string>, db: Db = this.store.db): Promise<Map<string, CachedDag>> {
    const ids = [...new Set(dagIds)];
    const toRead = ids.filter((id) => !this.fresh.has(id));
    for (const part of chunks(toRead)) {
      const rows = await db.selectFrom("dag").select(["dag_id", "dag_version_id", "is_paused"]).where("dag_id", "in", part).execute();
      for (const id of part) this.current.delete(id);
      for (const row of rows) {
        if (row.dag_version_id !== null) this.current.set(row.dag_id, { versionId: Number(row.dag_version_id), isPaused: row.is_paused === 1 });
      }
      for (const id of part) this.fresh.add(id);
    }
    const versions = await this.versions(
      ids.flatMap((id) => (this.current.has(id) ? [this.current.get(id)!.versionId] : [])),
      db,
    );
    const out = new Map<string, CachedDag>();
    for (const id of ids) {
      const head = this.current.get(id);
      const version = head && versions.get(head.versionId);
      if (head && version) out.set(id, { ...version, isPaused: head.isPaused });
    }
    return out;
  }

  /** Versions by id; ids no longer stored (pruned) are left out. */
  async versions(ids: Iterable<number>, db: Db = this.store.db): Promise<Map<number, DagVersion>> {
    const wanted = [...new Set(ids)];
    const missing = wanted.filter((id) => !this.versionsById.has(id));
    for (const part of chunks(missing, 200)) {
      const rows = await db.selectFrom("dag_version").select(["id", "serialized", "module_hash"]).where("id", "in", part).execute();
      for (const row of rows) {
        const dag = JSON.parse(row.serialized) as SerializedDag;
        this.versionsById.set(Number(row.id), {
          versionId: Number(row.id),
          dag,
          tasks: new Map(dag.tasks.map((t) => [t.taskId, t])),
          moduleHash: row.module_hash,
        });
      }
    }
    while (this.versionsById.size > MAX_CACHED_VERSIONS) this.versionsById.delete(this.versionsById.keys().next().value!);
    const out = new Map<number, DagVersion>();
    for (const id of wanted) {
      const version = this.versionsById.get(id);
      if (version) out.set(id, version);
    }
    return out;
  }

  /**
   * The version each run started with, with its DAG's paused flag. A run whose version is gone
   * (pruned) or was never recorded (started before versions existed) uses the DAG's current version.
   */
  async forRuns(runs: readonly RunVersion[]): Promise<(run: RunVersion) => CachedDag | undefined> {
    const heads = await this.load(runs.map((r) => r.dagId));
    const versions = await this.versions(runs.flatMap((r) => (r.versionId === null ? [] : [Number(r.versionId)])));
    return (run) => {
      const head = heads.get(run.dagId);
      if (!head) return undefined;
      if (run.versionId === null) return head;
      const version = versions.get(Number(run.versionId));
      if (version) return { ...version, isPaused: head.isPaused };
      if (!this.warnedMissing.has(Number(run.versionId))) {
        this.warnedMissing.add(Number(run.versionId));
        this.logger?.warn(
          { dag_id: run.dagId, dag_version_id: run.versionId, current_version_id: head.versionId },
          "a run's DAG version is no longer stored (pruned); using the DAG's current version",
        );
      }
      return head;
    };
  }
}
