/** Variables: keys with values that tasks (`ctx.variables`) and templates (`var.value.x`) read. */
import type { Kysely, Selectable, Transaction } from "kysely";
import { NotFoundError, UsageError } from "../errors.js";
import type { Database, VariableTable } from "../store/schema.js";
import type { SecretBox } from "./secrets.js";

type Db = Kysely<Database> | Transaction<Database>;

export interface VariableRow {
  key: string;
  value: string;
  description: string | null;
}

export const KEY_PATTERN = /^[A-Za-z0-9_.\-/]{1,250}$/;

export function checkVariableKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw new UsageError(`variable key ${JSON.stringify(key)} is invalid: use 1 to 250 letters, digits, '_', '.', '-' or '/'`);
  }
}

/** Creates or replaces a variable. */
export async function setVariable(db: Db, box: SecretBox, key: string, value: string, description?: string | null): Promise<void> {
  checkVariableKey(key);
  const row = { value: box.encrypt(value), description: description ?? null, is_encrypted: 1, updated_at: Date.now() };
  const updated = await db.updateTable("variable").set(row).where("key", "=", key).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto("variable").values({ key, ...row }).execute();
}

/** The variable, decrypted, or undefined when there is none with this key. */
export async function findVariable(db: Db, box: SecretBox, key: string): Promise<VariableRow | undefined> {
  const row = await db.selectFrom("variable").selectAll().where("key", "=", key).executeTakeFirst();
  return row ? decryptedVariable(box, row) : undefined;
}

export async function listVariables(db: Db, box: SecretBox): Promise<VariableRow[]> {
  const rows = await db.selectFrom("variable").selectAll().orderBy("key").execute();
  return rows.map((r) => decryptedVariable(box, r));
}

/** A stored variable row with its value decrypted. */
export function decryptedVariable(box: SecretBox, row: Selectable<VariableTable>): VariableRow {
  return { key: row.key, value: row.is_encrypted ? box.decrypt(row.value, `variable ${row.key}`) : row.value, description: row.description };
}

export async function deleteVariable(db: Db, key: string): Promise<void> {
  const result = await db.deleteFrom("variable").where("key", "=", key).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`variable '${key}' does not exist: see 'aloft variables list'`);
}
