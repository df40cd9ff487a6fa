/** API users in the metadata DB: created by `aloft users create`, by standalone's first start, or by an admin. */
import { NotFoundError, UsageError } from "../../errors.js";
import type { Store } from "../../store/db.js";
import type { ApiRole } from "../../store/schema.js";
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./passwords.js";
import { isRole, ROLES } from "./roles.js";

export interface ApiUser {
  username: string;
  role: ApiRole;
  active: boolean;
  changedAt: number;
}

const USERNAME = /^[A-Za-z0-9_.@-]{1,250}$/;

export function checkNewUser(username: string, password: string, role: string): asserts role is ApiRole {
  if (!USERNAME.test(username)) throw new UsageError(`username '${username}' is not valid: use 1 to 250 letters, digits and _ . @ -`);
  if (!isRole(role)) throw new UsageError(`role '${role}' is not one of ${ROLES.join(", ")}`);
  if (password.length < MIN_PASSWORD_LENGTH) throw new UsageError(`the password of '${username}' is too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
}

export async function createUser(store: Store, username: string, password: string, role: string): Promise<ApiUser> {
  checkNewUser(username, password, role);
  const existing = await store.db.selectFrom("api_user").select("username").where("username", "=", username).executeTakeFirst();
  if (existing) throw new UsageError(`user '${username}' exists already`);
  const now = Date.now();
  await store.db
    .insertInto("api_user")
    .values({ username, password_hash: await hashPassword(password), role, active: 1, created_at: now, changed_at: now, last_login_at: null })
    .execute();
  return { username, role, active: true, changedAt: now };
}

export async function findUser(store: Store, username: string): Promise<ApiUser | null> {
  const row = await store.db.selectFrom("api_user").select(["username", "role", "active", "changed_at"]).where("username", "=", username).executeTakeFirst();
  return row ? { username: row.username, role: row.role, active: row.active === 1, changedAt: Number(row.changed_at) } : null;
}

export async function anyUser(store: Store): Promise<boolean> {
  return (await store.db.selectFrom("api_user").select("username").limit(1).executeTakeFirst()) !== undefined;
}

/** The user when the password is theirs and they are active; null otherwise (the same for an unknown user). */
export async function checkPassword(store: Store, username: string, password: string): Promise<ApiUser | null> {
  const row = await store.db.selectFrom("api_user").selectAll().where("username", "=", username).executeTakeFirst();
  // An unknown user costs a hash too, so that response times do not tell which usernames exist.
  const ok = await verifyPassword(password, row?.password_hash ?? UNKNOWN_USER_HASH);
  if (!row || !ok || row.active !== 1) return null;
  await store.db.updateTable("api_user").set({ last_login_at: Date.now() }).where("username", "=", username).execute();
  return { username: row.username, role: row.role, active: true, changedAt: Number(row.changed_at) };
}

export interface UserRow extends ApiUser {
  createdAt: number;
  lastLoginAt: number | null;
}

export async function listUsers(store: Store): Promise<UserRow[]> {
  const rows = await store.db.selectFrom("api_user").select(["username", "role", "active", "changed_at", "created_at", "last_login_at"]).orderBy("username").execute();
  return rows.map((r) => ({
    username: r.username,
    role: r.role,
    active: r.active === 1,
    changedAt: Number(r.changed_at),
    createdAt: Number(r.created_at),
    lastLoginAt: r.last_login_at === null ? null : Number(r.last_login_at),
  }));
}

export interface UserChange {
  password?: string;
  role?: string;
  active?: boolean;
}

/**
 * Changes a user's password, role or active flag. Any change moves `changed_at`, which ends every
 * token and session issued to the user before (see tokens.ts).
 */
export async function changeUser(store: Store, username: string, change: UserChange): Promise<ApiUser> {
  const user = await findUser(store, username);
  if (!user) throw new NotFoundError(`user '${username}' does not exist: 'aloft users list' shows the users`);
  if (change.role !== undefined && !isRole(change.role)) throw new UsageError(`role '${change.role}' is not one of ${ROLES.join(", ")}`);
  if (change.password !== undefined && change.password.length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`the password of '${username}' is too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  // Strictly later than before, even within one millisecond, so that older tokens always stop working.
  const changedAt = Math.max(Date.now(), user.changedAt + 1);
  await store.db
    .updateTable("api_user")
    .set({
      changed_at: changedAt,
      ...(change.password !== undefined ? { password_hash: await hashPassword(change.password) } : {}),
      ...(change.role !== undefined ? { role: change.role as ApiRole } : {}),
      ...(change.active !== undefined ? { active: change.active ? 1 : 0 } : {}),
    })
    .where("username", "=", username)
    .execute();
  return (await findUser(store, username))!;
}

// A hash of nothing anyone can type (a fixed random salt and key): checked against for unknown users.
const UNKNOWN_USER_HASH = "scrypt$32768$8$1$3q2-7wAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
