/** Checks a manual run's params (DAG defaults merged with its conf) before the run is created. */
import { paramProblems } from "../dag/params.js";
import type { SerializedDag } from "../dag/types.js";
import { UsageError } from "../errors.js";

/** Throws a UsageError naming the DAG and each param that fails its schema; no run is created then. */
export function validateRunConf(dag: SerializedDag, conf: Record<string, unknown>): void {
  if (!dag.paramSchemas) return;
  const problems = paramProblems(dag.paramSchemas, { ...dag.params, ...conf });
  if (problems.length > 0) throw new UsageError(`DAG '${dag.dagId}': ${problems.join("; ")}; no run was created`);
}
