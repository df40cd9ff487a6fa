import type { Route } from "../../router.js";
export function DagPage({ dagId }: { dagId: string; route: Route }) {
  return <h1>{dagId}</h1>;
}
