/** The frame of every page: the top bar with the sections, the user, and logging out. */
import type { ComponentChildren } from "preact";
import { api } from "../api.js";
import { useSession } from "../session.js";

const SECTIONS: [label: string, path: string, first: string][] = [
  ["DAGs", "#/dags", "dags"],
  ["Cluster", "#/cluster", "cluster"],
  ["Admin", "#/admin/import-errors", "admin"],
];

export function Layout({ section, onLogout, children }: { section: string; onLogout: () => void; children: ComponentChildren }) {
  const session = useSession();
  const logout = async () => {
    await api("/auth/logout", { method: "POST" }).catch(() => undefined);
    onLogout();
  };
  return (
    <>
      <header class="topbar">
        <a class="brand" href="#/dags">
          Aloft
        </a>
        <nav>
          {SECTIONS.map(([label, path, first]) => (
            <a key={path} href={path} class={section === first ? "active" : ""}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {session.username} · {session.role}
        </span>
        <button onClick={logout}>Log out</button>
      </header>
      <main>{children}</main>
    </>
  );
}
