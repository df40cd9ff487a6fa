/**
 * The process-global registry of DAGs built by `dag()`.
 *
 * It lives on `globalThis` under a `Symbol.for` key so that DAG files importing another copy of this
 * module (say, the published package next to a source checkout) still register with the same registry.
 */

import { checkUniqueDagId } from "./validate.js";
import type { Dag } from "./types.js";

const REGISTRY_KEY = Symbol.for("aloft.dag-registry");

type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: Map<string, Dag> };

function registry(): Map<string, Dag> {
  const global = globalThis as GlobalWithRegistry;
  return (global[REGISTRY_KEY] ??= new Map());
}

/** Adds a DAG; throws DagDefinitionError if a DAG with the same id is registered. */
export function registerDag(dag: Dag): void {
  const dags = registry();
  checkUniqueDagId(dag.dagId, dags.has(dag.dagId));
  dags.set(dag.dagId, dag);
}

/** The registered DAGs, in registration order. */
export function registeredDags(): Dag[] {
  return [...registry().values()];
}

export function clearRegistry(): void {
  registry().clear();
}

/** Returns the registered DAGs and empties the registry; the DAG processor calls it after importing each file. */
export function takeRegisteredDags(): Dag[] {
  const dags = registeredDags();
  clearRegistry();
  return dags;
}
