/** What clearing, marking and notes share: finding the run and its DAG, task relatives, the event log. */
import type { Kysely, Transaction } from "kysely";
import type { SerializedDag } from "../dag/types.js";
import { NotFoundError } from "../errors.js";
import { findRun } from "../scheduler/runs.js";
import type { Database, DagRunRow } from "../store/schema.js";

export type Db = Kysely<Database> | Transaction<Database>;

/** Who made a change by hand, as event_log.owner records it ("cli", or a user of the API). */
export interface Actor {
  owner: string;
}

export interface RunAndDag {
  run: DagRunRow;
  /** The DAG version the run runs on (the DAG's current one when the run's was pruned). */
  dag: SerializedDag | null;
}

export async function requireRun(db: Db, dagId: string, runId: string): Promise<RunAndDag> {
  const dagRow = await db.selectFrom("dag").select("serialized").where("dag_id", "=", dagId).executeTakeFirst();
  if (!dagRow) throw new NotFoundError(`DAG '${dagId}' does not exist: see 'aloft dags list' for the DAG ids`);
  const run = await findRun(db, dagId, runId);
  if (!run) throw new NotFoundError(`DAG '${dagId}' has no run '${runId}': see 'aloft dags list-runs ${dagId}'`);
  const version =
    run.dag_version_id === null
      ? undefined
      : await db.selectFrom("dag_version").select("serialized").where("id", "=", run.dag_version_id).executeTakeFirst();
  return { run, dag: JSON.parse((version ?? dagRow).serialized) as SerializedDag };
}

/** Throws naming the task ids the run has no instance of. */
export function requireTasks(dagId: string, runId: string, known: Iterable<string>, wanted: string[]): void {
  const have = new Set(known);
  const missing = wanted.filter((id) => !have.has(id));
  if (missing.length > 0) {
    throw new NotFoundError(
      `run '${runId}' of DAG '${dagId}' has no task ${missing.map((m) => `'${m}'`).join(", ")}: see 'aloft tasks states ${dagId} ${runId}'`,
    );
  }
}

/** `taskIds` plus, when asked, every task before them (upstream) and after them (downstream), transitively. */
export function withRelatives(dag: SerializedDag | null, taskIds: string[], upstream: boolean, downstream: boolean): Set<string> {
  const out = new Set(taskIds);
  if (!dag) return out;
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const walk = (next: (id: string) => string[]) => {
    const stack = [...taskIds];
    while (stack.length > 0) {
      for (const id of next(stack.pop()!)) {
        if (!out.has(id)) {
          out.add(id);
          stack.push(id);
        }
      }
    }
  };
  if (upstream) walk((id) => byId.get(id)?.upstream ?? []);
  if (downstream) walk((id) => byId.get(id)?.downstream ?? []);
  return out;
}

/** Records a change made by hand in the event log (Airflow's `log` table). `extra` never holds a secret. */
export async function logEvent(
  db: Db,
  actor: Actor,
  event: string,
  where: { dagId?: string | null; runId?: string | null; taskId?: string | null },
  extra: Record<string, unknown> | string | null = null,
): Promise<void> {
  await db
    .insertInto("event_log")
    .values({
      dttm: Date.now(),
      event,
      dag_id: where.dagId ?? null,
      run_id: where.runId ?? null,
      task_id: where.taskId ?? null,
      owner: actor.owner,
      extra: extra === null || typeof extra === "string" ? extra : JSON.stringify(extra),
    })
    .execute();
}
