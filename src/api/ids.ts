/**
 * Airflow's API gives task instances and DAG versions uuid ids; Aloft's are integers. They are
 * answered as uuid-shaped strings that end with the integer in decimal (7 is
 * "00000000-0000-0000-0000-000000000007"): clients that parse a uuid accept them, and a person can
 * still read the integer off the end.
 */
export function uuidOfId(id: number): string {
  return `00000000-0000-0000-0000-${String(id).padStart(12, "0")}`;
}
