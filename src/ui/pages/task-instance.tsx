import type { Route } from "../router.js";
export function TaskInstancePage({ taskId }: { dagId: string; runId: string; taskId: string; route: Route }) {
  return <h1>{taskId}</h1>;
}
