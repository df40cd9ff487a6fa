/** Checks a manual run's params (DAG defaults merged with its conf) before the run is created. */
import type { Kysely, Transaction } from "kysely";
import { paramProblems } from "../dag/params.js";
import type { SerializedDag } from "../dag/types.js";
import { UsageError } from "../errors.js";
import type { Database } from "../store/schema.js";

type Db = Kysely<Database> | Transaction<Database>;

/** Throws a UsageError naming the DAG and each param that fails its schema; no run is created then. */
export async function validateRunConf(db: Db, dagId: string, conf: Record<string, unknown>): Promise<void> {
  const row = await db.selectFrom("dag").select("serialized").where("dag_id", "=", dagId).executeTakeFirst();
  if (!row) return;
  const dag = JSON.parse(row.serialized) as SerializedDag;
  if (!dag.paramSchemas) return;
  const problems = paramProblems(dag.paramSchemas, { ...dag.params, ...conf });
  if (problems.length > 0) throw new UsageError(`DAG '${dagId}': ${problems.join("; ")}; no run was created`);
}
