/** The web UI's entry: restores the session (GET /auth/me), then routes by the address's hash. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, whenUnauthorized } from "./api.js";
import { Layout } from "./components/layout.js";
import { pageFor } from "./pages/index.js";
import { LoginPage } from "./pages/login.js";
import { useRoute } from "./router.js";
import { SessionContext, type Session } from "./session.js";

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    api<Session>("/auth/me").then(setSession, () => setSession(null));
    return whenUnauthorized(() => setSession(null));
  }, []);
  if (session === undefined) return <main class="muted">Loading…</main>;
  if (session === null) return <LoginPage onLogin={setSession} />;
  const { section, page } = pageFor(route);
  return (
    <SessionContext.Provider value={session}>
      <Layout section={section} onLogout={() => setSession(null)}>
        {page}
      </Layout>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
