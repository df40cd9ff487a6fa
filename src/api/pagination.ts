/**
 * Airflow's list conventions: `limit` (default 50, at most 100) and `offset`, and `order_by` naming a
 * field, `-` first for descending; the response carries `total_entries`, the count before paging.
 */
import type { SelectQueryBuilder } from "kysely";
import { ApiProblem } from "./problems.js";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 100;

/** The query-string schema of the paging parameters, to spread into a route's querystring properties. */
export const pagingQuery = {
  limit: { type: "integer", minimum: 0, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
  offset: { type: "integer", minimum: 0, default: 0 },
  order_by: { type: "string", maxLength: 100 },
} as const;

export interface PagingParams {
  limit: number;
  offset: number;
  order_by?: string;
}

/**
 * Pages `query` and orders it by `order_by`, one of `columns` (API field → column), then by
 * `tiebreak` so that pages do not overlap. A field not in `columns` is a 400 that lists the allowed ones.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function page<QB extends SelectQueryBuilder<any, any, any>>(query: QB, params: PagingParams, columns: Record<string, string>, fallback: string, tiebreak: string): QB {
  const wanted = params.order_by ?? fallback;
  const field = wanted.replace(/^-/, "");
  const column = columns[field];
  if (!column) throw new ApiProblem(400, "Bad Request", `cannot order by '${field}': order_by takes one of ${Object.keys(columns).join(", ")} (with - first for descending)`);
  const direction = wanted.startsWith("-") ? "desc" : "asc";
  return query.orderBy(column, direction).orderBy(tiebreak, direction).limit(params.limit).offset(params.offset) as QB;
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
