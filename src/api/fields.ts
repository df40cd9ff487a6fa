/** Request-body conventions the pools, variables and connections routes share. */
import { invalidField } from "./problems.js";

/**
 * A free text field kept in a TEXT column: 10,000 characters fit MySQL's 64 KiB even at four bytes
 * each and encrypted (base64 adds a third).
 */
export const longText = { type: ["string", "null"], maxLength: 10_000 } as const;

/** `team_name`, of Airflow's multi-team deployments. */
export const teamName = { type: ["string", "null"], maxLength: 50 } as const;

/** Aloft has no teams: a team is refused (422 at the field, as a bad field), not ignored. */
export function refuseTeam(body: { team_name?: string | null }): void {
  if (body.team_name != null) throw invalidField(["body", "team_name"], "team_name is not supported: Aloft has no teams; leave it out or null");
}

/** The update_mask query of a PATCH: names of the body's fields. */
export function updateMaskQuery(fields: readonly string[]) {
  return { type: "object", additionalProperties: false, properties: { update_mask: { type: "array", items: { type: "string", enum: fields } } } } as const;
}

/** Whether a PATCH changes `field`, as in Airflow: the body sets it, and update_mask, when given, names it. */
export function patches(body: object, updateMask: readonly string[] | undefined, field: string): boolean {
  return field in body && (updateMask === undefined || updateMask.includes(field));
}
