/**
 * The API's users (admin only): list, create with a role, change role, active or password.
 * Passwords are write-only. A change ends the sessions the user had, so changing yourself logs you out.
 */
import { useState } from "preact/hooks";
import { api, enc } from "../../api.js";
import { useDialog } from "../../components/modal.js";
import { when } from "../../format.js";
import { usePoll } from "../../hooks.js";
import { useSession, type Role } from "../../session.js";
import { CountAndCreate, EditDialog, Field, listWords, type Checked } from "./shared.js";

interface User {
  username: string;
  role: Role;
  active: boolean;
  created_at: string | null;
  last_login_at: string | null;
}

const ROLES: Role[] = ["viewer", "user", "op", "admin"];
const USERNAME = /^[A-Za-z0-9_.@-]{1,250}$/;
const MIN_PASSWORD_LENGTH = 8;

export function UsersPage() {
  const { dialog, open, close } = useDialog();
  // The API lists every user at once (users are few): no paging.
  const list = usePoll(() => api<{ users: User[]; total_entries: number }>("/api/v2/users"), [], 0);
  const edit = (u?: User) => open(<UserDialog user={u} onSaved={list.reload} onClose={close} />);

  return (
    <>
      <div class="toolbar">
        <span class="grow" />
        <CountAndCreate total={list.data?.total_entries} noun="user" create={{ label: "New user", testId: "create-user", onClick: () => edit() }} />
      </div>
      {list.error && <div class="error">{list.error}</div>}
      <table class="list" data-testid="users">
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            <th>Active</th>
            <th>Created</th>
            <th>Last login</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.data?.users.map((u) => (
            <tr key={u.username} data-key={u.username} class={u.active ? "" : "muted"}>
              <td class="mono">{u.username}</td>
              <td>
                <span class="tag">{u.role}</span>
              </td>
              <td>{u.active ? "yes" : "no (cannot log in)"}</td>
              <td>{when(u.created_at)}</td>
              <td>{u.last_login_at ? when(u.last_login_at) : <span class="muted">never</span>}</td>
              <td class="admin-actions">
                <button onClick={() => edit(u)} data-testid="edit">
                  Edit
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {dialog}
    </>
  );
}

function UserDialog({ user, onSaved, onClose }: { user?: User; onSaved: () => void; onClose: () => void }) {
  const me = useSession().username;
  const [username, setUsername] = useState(user?.username ?? "");
  const [role, setRole] = useState<Role>(user?.role ?? "viewer");
  const [active, setActive] = useState(user?.active ?? true);
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");

  /** The PATCH body: only what changed (the API wants at least one field). */
  const changes = () => ({
    ...(user && role !== user.role ? { role } : {}),
    ...(user && active !== user.active ? { active } : {}),
    ...(password ? { password } : {}),
  });

  const check = (): Checked => {
    if (!user && !USERNAME.test(username)) return { error: "The username needs 1 to 250 letters, digits and _ . @ -" };
    if ((!user || password) && password.length < MIN_PASSWORD_LENGTH) return { error: `The password needs at least ${MIN_PASSWORD_LENGTH} characters.` };
    if (password !== again) return { error: "The two passwords differ." };
    if (!user) return { confirm: <p>Create user <code>{username}</code> with role {role}?</p>, confirmLabel: "Create" };
    const changed = Object.keys(changes());
    if (changed.length === 0) return { error: "Nothing changed." };
    return {
      confirm: (
        <>
          <p>
            Change the {listWords(changed.map((c) => (c === "active" ? (active ? "active flag (reactivate)" : "active flag (deactivate)") : c)))} of <code>{user.username}</code>?
          </p>
          <p class="notice">
            {user.username === me ? "This is you: your session ends, and you log in again." : `${user.username}'s tokens and sessions end: they log in again.`}
          </p>
        </>
      ),
      confirmLabel: "Save",
    };
  };

  const save = async () => {
    if (!user) await api("/api/v2/users", { method: "POST", body: { username, password, role } });
    else await api(`/api/v2/users/${enc(user.username)}`, { method: "PATCH", body: changes() });
  };

  return (
    <EditDialog title={user ? `Edit user ${user.username}` : "New user"} check={check} save={save} onSaved={onSaved} onClose={onClose}>
      <Field label="Username">
        <input value={username} disabled={!!user} autoComplete="off" onInput={(e) => setUsername(e.currentTarget.value)} data-testid="field-username" />
      </Field>
      <Field label="Role" help="viewer reads; user operates DAGs; op changes pools, variables and connections; admin manages users.">
        <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)} data-testid="field-role">
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </Field>
      {user && (
        <label class="admin-check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} data-testid="field-active" /> Active (may log in)
        </label>
      )}
      <Field label={user ? "New password" : "Password"} help={user ? "Leave empty to keep the current password." : `At least ${MIN_PASSWORD_LENGTH} characters.`}>
        <input type="password" value={password} autoComplete="new-password" onInput={(e) => setPassword(e.currentTarget.value)} data-testid="field-password" />
      </Field>
      <Field label="Password again">
        <input type="password" value={again} autoComplete="new-password" onInput={(e) => setAgain(e.currentTarget.value)} data-testid="field-password-again" />
      </Field>
    </EditDialog>
  );
}
