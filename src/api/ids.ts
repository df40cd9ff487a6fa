/**
 * Airflow's API names task instances and DAG versions by UUID; Aloft's rows have integer ids. The
 * API shows such an id as a UUID that encodes it (version 4, variant 1, the integer in the last 12
 * hex digits), so clients that expect a UUID get one, and it maps back to the row.
 */
const PREFIX = "00000000-0000-4000-8000-";

export function uuidOf(id: number): string {
  return `${PREFIX}${id.toString(16).padStart(12, "0")}`;
}

/** The row id of a UUID made by uuidOf; null for any other string. */
export function idOfUuid(uuid: string): number | null {
  if (!uuid.toLowerCase().startsWith(PREFIX)) return null;
  const hex = uuid.slice(PREFIX.length);
  return /^[0-9a-f]{12}$/i.test(hex) ? parseInt(hex, 16) : null;
}
