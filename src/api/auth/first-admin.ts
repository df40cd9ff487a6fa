/** The first user of a new deployment: standalone creates an admin with a generated password when there is no user yet. */
import type { Store } from "../../store/db.js";
import { logEvent } from "../../operations/context.js";
import { generatePassword } from "./passwords.js";
import { anyUser, createUser } from "./users.js";

export const FIRST_ADMIN = "admin";

/** Creates `admin` with a generated password when no user exists; returns it (to show once), or null. */
export async function ensureFirstAdmin(store: Store): Promise<{ username: string; password: string } | null> {
  if (await anyUser(store)) return null;
  const password = generatePassword();
  try {
    await createUser(store, FIRST_ADMIN, password, "admin");
  } catch (error) {
    // Another standalone on the same DB created users meanwhile.
    if (await anyUser(store)) return null;
    throw error;
  }
  await logEvent(store.db, { owner: "standalone" }, "user.create", {}, { username: FIRST_ADMIN, role: "admin" });
  return { username: FIRST_ADMIN, password };
}
