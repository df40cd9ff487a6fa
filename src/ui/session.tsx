/** Who is logged in, for the whole app: role decides which actions a page offers. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export type Role = "viewer" | "user" | "op" | "admin";
export interface Session {
  username: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, user: 1, op: 2, admin: 3 };

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a logged-in page");
  return session;
}

/** Whether the user may do what needs `least` (the server checks too; this only hides buttons). */
export function useCan(least: Role): boolean {
  return RANK[useSession().role] >= RANK[least];
}
