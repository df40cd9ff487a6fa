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

/**
 * Airflow's search patterns (`dag_id_pattern`, `variable_key_pattern`...): SQL LIKE (`%` and `_` are
 * the user's wildcards) matched anywhere in the value and without regard to case, and `a | b` for
 * either. Match each against the lower-cased column.
 */
function searchPatterns(pattern: string): string[] {
  return pattern
    .split("|")
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== "")
    .map((p) => `%${p}%`);
}

/** `query` narrowed to the rows whose `column` matches the search `pattern` (when one is given). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function matchingPattern<QB extends SelectQueryBuilder<any, any, any>>(query: QB, column: string, pattern: string | undefined): QB {
  const patterns = pattern === undefined ? [] : searchPatterns(pattern);
  if (patterns.length === 0) return query;
  return query.where((eb) => eb.or(patterns.map((p) => eb(eb.fn("lower", [column]), "like", p)))) as QB;
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
