/** The admin section: tabs over import errors, variables, connections, pools and (for admins) users. */
import type { Route } from "../../router.js";
import { useCan } from "../../session.js";
import { ConnectionsPage } from "./connections.js";
import { ImportErrorsPage } from "./import-errors.js";
import { PoolsPage } from "./pools.js";
import { UsersPage } from "./users.js";
import { VariablesPage } from "./variables.js";

const TABS: [which: string, label: string][] = [
  ["import-errors", "Import errors"],
  ["variables", "Variables"],
  ["connections", "Connections"],
  ["pools", "Pools"],
  ["users", "Users"],
];

export function AdminPage({ which, route }: { which: string; route: Route }) {
  const isAdmin = useCan("admin");
  const tabs = TABS.filter(([tab]) => tab !== "users" || isAdmin);
  return (
    <>
      <h1>Admin</h1>
      <nav class="tabs" data-testid="admin-tabs">
        {tabs.map(([tab, label]) => (
          <a key={tab} href={`#/admin/${tab}`} class={tab === which ? "active" : ""} data-testid={`tab-${tab}`}>
            {label}
          </a>
        ))}
      </nav>
      <AdminTab key={which} which={which} route={route} isAdmin={isAdmin} />
    </>
  );
}

function AdminTab({ which, route, isAdmin }: { which: string; route: Route; isAdmin: boolean }) {
  if (which === "import-errors") return <ImportErrorsPage route={route} />;
  if (which === "variables") return <VariablesPage route={route} />;
  if (which === "connections") return <ConnectionsPage route={route} />;
  if (which === "pools") return <PoolsPage route={route} />;
  if (which === "users") return isAdmin ? <UsersPage /> : <p class="error">Only admins manage users.</p>;
  return <p class="error">No admin page '{which}'. Pick one of the tabs above.</p>;
}
