/** What `dags test` and `dags next-runs` share: the DAG file named on the command line, and its DAG. */
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";

/** The file's absolute path; throws unless it is an existing file. */
export function requireDagFile(file: string): string {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved) || !fs.statSync(resolved).isFile()) {
    throw new UsageError(`DAG file ${file} does not exist: give the path of a .ts or .js DAG file`);
  }
  return resolved;
}

/** The DAG the user asked for with `--dag`, or the file's only DAG. */
export function chooseDagId(file: string, ids: readonly string[], wanted: string | undefined): string {
  const chosen = wanted ?? (ids.length === 1 ? ids[0] : undefined);
  if (chosen === undefined) {
    throw new UsageError(ids.length === 0 ? `${file} defines no DAG: call dag(...) in it` : `${file} defines several DAGs (${ids.join(", ")}): choose one with --dag ID`);
  }
  if (!ids.includes(chosen)) throw new UsageError(`${file} defines no DAG '${chosen}'; it defines: ${ids.join(", ") || "none"}`);
  return chosen;
}
