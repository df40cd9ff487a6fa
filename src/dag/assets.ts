/**
 * Assets (Airflow's datasets) in DAG files: `asset(uri)` names one; tasks declare the assets they
 * update with `outlets: [asset(...)]`, and a DAG scheduled on assets runs when they were updated:
 *
 *     const raw = asset("s3://lake/raw");
 *     dag("clean", { schedule: raw }, ...);                                  // on each update of raw
 *     dag("report", { schedule: [raw, other] }, ...);                        // after both were updated
 *     dag("either", { schedule: anyOf(raw, allOf(a, b)) }, ...);             // or: raw.or(a.and(b))
 *
 * Expressions are plain tagged objects (not class instances) so that a DAG file bundling another copy
 * of this module still produces values the processor recognizes.
 */
import type { AssetCondition } from "../timetable/asset-condition.js";

/** Methods every asset expression has. */
interface Combinable {
  /** This expression and all of `others`. */
  and(...others: AssetExpression[]): AssetAll;
  /** This expression or any of `others`. */
  or(...others: AssetExpression[]): AssetAny;
}

export interface Asset extends Combinable {
  readonly kind: "asset";
  readonly uri: string;
}
export interface AssetAll extends Combinable {
  readonly kind: "all";
  readonly items: readonly AssetExpression[];
}
export interface AssetAny extends Combinable {
  readonly kind: "any";
  readonly items: readonly AssetExpression[];
}
export type AssetExpression = Asset | AssetAll | AssetAny;

function combinable<T extends object>(value: T): T & Combinable {
  const self = value as T & Combinable;
  return Object.freeze(
    Object.assign(self, {
      and: (...others: AssetExpression[]) => allOf(self as unknown as AssetExpression, ...others),
      or: (...others: AssetExpression[]) => anyOf(self as unknown as AssetExpression, ...others),
    }),
  );
}

/**
 * An asset, named by a URI such as "s3://bucket/key" or "postgres://db/schema/table". The URI is the
 * asset's identity: the same string in two DAG files is the same asset. Checked when the DAG loads.
 */
export function asset(uri: string): Asset {
  return combinable({ kind: "asset" as const, uri });
}

/** Satisfied when every item is (`schedule: [a, b]` means the same). */
export function allOf(...items: AssetExpression[]): AssetAll {
  return combinable({ kind: "all" as const, items: Object.freeze([...items]) });
}

/** Satisfied when any item is. */
export function anyOf(...items: AssetExpression[]): AssetAny {
  return combinable({ kind: "any" as const, items: Object.freeze([...items]) });
}

/** Whether a value looks like an asset expression built by these functions. */
export function isAssetExpression(value: unknown): value is AssetExpression {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === "asset" || kind === "all" || kind === "any";
}

/**
 * The stored condition of an asset schedule, or a description of what is wrong with it.
 * An array means all of its items.
 */
export function toAssetCondition(value: unknown, where = "schedule"): AssetCondition | { error: string } {
  if (Array.isArray(value)) return toAssetCondition(allOf(...(value as AssetExpression[])), where);
  if (!isAssetExpression(value)) return { error: `${where}: expected asset(uri), allOf(...) or anyOf(...), got ${describe(value)}` };
  if (value.kind === "asset") {
    const problem = assetUriProblem(value.uri);
    return problem === null ? { uri: value.uri } : { error: `${where}: ${problem}` };
  }
  if (!Array.isArray(value.items) || value.items.length === 0) {
    return { error: `${where}: ${value.kind === "all" ? "allOf" : "anyOf"}() needs at least one asset` };
  }
  const items: AssetCondition[] = [];
  for (const [index, item] of value.items.entries()) {
    const condition = toAssetCondition(item, `${where} item ${index + 1}`);
    if ("error" in condition) return condition;
    items.push(condition);
  }
  return value.kind === "all" ? { all: items } : { any: items };
}

/** Longest asset URI (it is a key in the metadata DB). */
export const MAX_ASSET_URI_LENGTH = 500;

/** Why a URI cannot name an asset, or null when it can. */
export function assetUriProblem(uri: unknown): string | null {
  if (typeof uri !== "string" || uri.trim() === "") return `an asset URI must be a non-empty string, got ${describe(uri)}`;
  if (uri !== uri.trim() || /\s/.test(uri)) return `asset URI ${JSON.stringify(uri)} must not contain whitespace`;
  if (uri.length > MAX_ASSET_URI_LENGTH) return `asset URI is ${uri.length} characters long; at most ${MAX_ASSET_URI_LENGTH} are allowed`;
  return null;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
