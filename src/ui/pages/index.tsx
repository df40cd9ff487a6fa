/** Which page an address shows, and which section of the top bar it belongs to. */
import type { ComponentChildren } from "preact";
import type { Route } from "../router.js";
import { AdminPage } from "./admin/admin-page.js";
import { ClusterPage } from "./cluster.js";
import { DagPage } from "./dag/dag-page.js";
import { DagListPage } from "./dag-list.js";
import { TaskInstancePage } from "./task-instance.js";

export function pageFor(route: Route): { section: string; page: ComponentChildren } {
  const [first, dagId, runs, runId, tasks, taskId] = route.segments;
  if (first === "dags" && dagId && runs === "runs" && runId && tasks === "tasks" && taskId) {
    return { section: "dags", page: <TaskInstancePage key={`${dagId}/${runId}/${taskId}`} dagId={dagId} runId={runId} taskId={taskId} route={route} /> };
  }
  if (first === "dags" && dagId) return { section: "dags", page: <DagPage key={dagId} dagId={dagId} route={route} /> };
  if (first === "cluster") return { section: "cluster", page: <ClusterPage route={route} /> };
  if (first === "admin") return { section: "admin", page: <AdminPage which={route.segments[1] ?? "import-errors"} route={route} /> };
  if (first === "dags" || first === undefined) return { section: "dags", page: <DagListPage route={route} /> };
  return { section: "", page: <p class="error">No page at #{route.segments.join("/")}. Go to <a href="#/dags">the DAG list</a>.</p> };
}
