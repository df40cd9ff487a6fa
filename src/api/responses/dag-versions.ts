/** Airflow's DagVersionResponse for Aloft's DAG versions (dag_version rows), read once for many. */
import type { Db } from "../../operations/context.js";
import { uuidOf } from "../ids.js";
import { iso } from "../pagination.js";

/** The one bundle source Aloft has: bundles deployed into the metadata DB (`aloft deploy`, standalone's folder). */
export const BUNDLE_NAME = "aloft";

export interface DagVersionResponse {
  id: string;
  version_number: number;
  dag_id: string;
  dag_display_name: string;
  bundle_name: string;
  bundle_version: string;
  bundle_url: null;
  created_at: string;
}

/** The versions with these ids, by id; an id with no row (a pruned version) is not in the map. */
export async function dagVersionResponses(db: Db, ids: Array<number | null>): Promise<Map<number, DagVersionResponse>> {
  const wanted = [...new Set(ids.filter((id): id is number => id !== null))];
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom("dag_version").select(["id", "dag_id", "version_number", "bundle_id", "created_at"]).where("id", "in", wanted).execute();
  return new Map(
    rows.map((v) => [
      Number(v.id),
      {
        id: uuidOf(v.id),
        version_number: v.version_number,
        dag_id: v.dag_id,
        dag_display_name: v.dag_id,
        bundle_name: BUNDLE_NAME,
        bundle_version: String(v.bundle_id),
        bundle_url: null,
        created_at: iso(v.created_at)!,
      },
    ]),
  );
}
