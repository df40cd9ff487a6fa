import type { Route } from "../router.js";
export function ClusterPage(_props: { route: Route }) {
  return <h1>Cluster</h1>;
}
