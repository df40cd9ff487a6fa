import type { Route } from "../../router.js";
export function AdminPage({ which }: { which: string; route: Route }) {
  return <h1>{which}</h1>;
}
