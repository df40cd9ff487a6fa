/** Logging in: POST /auth/login sets the session cookie and the CSRF cookie. */
import { useState } from "preact/hooks";
import { api, messageOf } from "../api.js";
import type { Session } from "../session.js";

export function LoginPage({ onLogin }: { onLogin: (session: Session) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onLogin(await api<Session>("/auth/login", { method: "POST", body: { username, password } }));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel login" onSubmit={submit}>
      <h1>Aloft</h1>
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
      {error && <div class="error">{error}</div>}
      <div style={{ marginTop: 14 }}>
        <button class="primary" type="submit" disabled={busy}>
          Log in
        </button>
      </div>
    </form>
  );
}
