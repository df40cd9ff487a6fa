/**
 * Asset conditions as stored with a DAG (`schedule: asset(...)`, `[a, b]`, `allOf`/`anyOf`, `.and()`/`.or()`),
 * and their evaluation against the assets that received events. Pure: no clock, no DB.
 */

/** One asset, or all / any of several conditions. */
export type AssetCondition = { uri: string } | { all: AssetCondition[] } | { any: AssetCondition[] };

/** Every asset URI a condition mentions, each once, in the order written. */
export function conditionUris(condition: AssetCondition): string[] {
  const out = new Set<string>();
  const walk = (c: AssetCondition) => {
    if ("uri" in c) out.add(c.uri);
    else for (const item of "all" in c ? c.all : c.any) walk(item);
  };
  walk(condition);
  return [...out];
}

/** Whether the condition holds when exactly the assets in `updated` have new events. */
export function conditionSatisfied(condition: AssetCondition, updated: ReadonlySet<string>): boolean {
  if ("uri" in condition) return updated.has(condition.uri);
  if ("all" in condition) return condition.all.every((c) => conditionSatisfied(c, updated));
  return condition.any.some((c) => conditionSatisfied(c, updated));
}

/** A readable form for listings: `s3://a & (s3://b | s3://c)`. */
export function describeCondition(condition: AssetCondition, nested = false): string {
  if ("uri" in condition) return condition.uri;
  const items = "all" in condition ? condition.all : condition.any;
  const text = items.map((c) => describeCondition(c, true)).join("all" in condition ? " & " : " | ");
  return nested && items.length > 1 ? `(${text})` : text;
}
