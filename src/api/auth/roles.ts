/**
 * Who may do what. Each role may do everything the ones before it may:
 * - viewer: read everything but secrets (DAGs, runs, tries, logs, XComs, pools, variables with
 *   secret values masked, connections without passwords, the cluster);
 * - user: also operate DAGs: pause, trigger, clear, mark, delete runs, notes, backfills;
 * - op: also change the deployment's settings: pools, variables, connections, deploys, DAG deletion;
 * - admin: also manage users.
 * `public` routes need no login (health, version, the login itself).
 */
import type { ApiRole } from "../../store/schema.js";

export const ROLES: readonly ApiRole[] = ["viewer", "user", "op", "admin"];

export type Access = ApiRole | "public";

export function isRole(value: string): value is ApiRole {
  return (ROLES as readonly string[]).includes(value);
}

export function roleAllows(role: ApiRole, needed: ApiRole): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
