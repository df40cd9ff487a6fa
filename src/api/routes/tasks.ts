/**
 * `/api/v2/dags/{dag_id}/tasks`: the tasks of a DAG's current version, from its serialized structure,
 * in the shape of Airflow's TaskResponse. As in Airflow, the list is not paged: it is the whole DAG,
 * ordered by `order_by` (any field of a task with a single value, `-` first for descending).
 */
import type { FastifyInstance } from "fastify";
import type { SerializedDag, SerializedTask } from "../../dag/types.js";
import type { Store } from "../../store/db.js";
import { badRequest, notFound } from "../problems.js";
import { airflowParams, requireDag } from "./dags.js";

const idString = { type: "string", minLength: 1, maxLength: 250 } as const;

/** The fields a bash task renders as templates (a function task renders none). */
const BASH_TEMPLATE_FIELDS = ["command", "env"];

/** Airflow's TimeDelta for a duration in milliseconds. */
function timeDelta(ms: number | null | undefined) {
  if (ms === null || ms === undefined) return null;
  const days = Math.floor(ms / 86_400_000);
  const rest = ms - days * 86_400_000;
  return { __type: "TimeDelta", days, seconds: Math.floor(rest / 1000), microseconds: (rest % 1000) * 1000 };
}

type TaskResponse = ReturnType<typeof taskResponse>;

function taskResponse(dag: SerializedDag, task: SerializedTask) {
  return {
    task_id: task.taskId,
    task_display_name: task.taskId,
    // Aloft tasks have no owner.
    owner: null,
    // A task runs within its DAG's dates.
    start_date: dag.start,
    end_date: dag.end,
    trigger_rule: task.triggerRule,
    depends_on_past: task.dependsOnPast ?? false,
    wait_for_downstream: task.waitForDownstream ?? false,
    retries: task.retries,
    queue: task.queue,
    pool: task.pool,
    pool_slots: task.poolSlots,
    execution_timeout: timeDelta(task.executionTimeoutMs),
    retry_delay: timeDelta(task.retryDelayMs),
    // Airflow 3's multiplier: Aloft's backoff doubles the delay after each failed try; 0 is off.
    retry_exponential_backoff: task.retryExponentialBackoff ? 2 : 0,
    priority_weight: task.priorityWeight,
    weight_rule: task.weightRule ?? "downstream",
    ui_color: null,
    ui_fgcolor: null,
    template_fields: task.kind === "bash" ? BASH_TEMPLATE_FIELDS : [],
    downstream_task_ids: task.downstream,
    doc_md: null,
    // The same name as the task instances' `operator`, so the two can be matched.
    operator_name: task.kind,
    params: airflowParams(dag),
    class_ref: { module_path: "aloft", class_name: task.operator ?? task.kind },
    is_mapped: task.expandFrom !== undefined,
    has_outlets: (task.outlets?.length ?? 0) > 0,
    extra_links: [] as string[],
  };
}

/** The fields of a task with one plain value, which `order_by` may name. */
const ORDER_FIELDS = [
  "task_id",
  "task_display_name",
  "start_date",
  "end_date",
  "trigger_rule",
  "depends_on_past",
  "wait_for_downstream",
  "retries",
  "queue",
  "pool",
  "pool_slots",
  "retry_exponential_backoff",
  "priority_weight",
  "weight_rule",
  "operator_name",
  "is_mapped",
  "has_outlets",
] as const satisfies ReadonlyArray<keyof TaskResponse>;
type OrderField = (typeof ORDER_FIELDS)[number];

type Scalar = string | number | boolean | null;

function compare(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** `tasks` ordered by `orderBy` (a field name, `-` first for descending), then by task id. */
function ordered(tasks: TaskResponse[], orderBy: string): TaskResponse[] {
  const field = orderBy.replace(/^-/, "");
  if (!(ORDER_FIELDS as readonly string[]).includes(field)) {
    throw badRequest(`cannot order tasks by '${field}': order_by takes one of ${ORDER_FIELDS.join(", ")} (with - first for descending)`);
  }
  const key = field as OrderField;
  const sign = orderBy.startsWith("-") ? -1 : 1;
  return [...tasks].sort((a, b) => sign * (compare(a[key], b[key]) || compare(a.task_id, b.task_id)));
}

/** The DAG's current version: what it is now deployed as (Airflow's latest version of the DAG). */
async function currentDag(store: Store, dagId: string): Promise<SerializedDag> {
  return JSON.parse((await requireDag(store, dagId)).serialized) as SerializedDag;
}

export function registerTaskRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Params: { dag_id: string }; Querystring: { order_by: string } }>(
    "/api/v2/dags/:dag_id/tasks",
    {
      config: { access: "viewer" },
      schema: {
        params: { type: "object", required: ["dag_id"], properties: { dag_id: idString } },
        querystring: { type: "object", additionalProperties: false, properties: { order_by: { type: "string", minLength: 1, maxLength: 100, default: "task_id" } } },
      },
    },
    async (request) => {
      const dag = await currentDag(store, request.params.dag_id);
      const tasks = ordered(dag.tasks.map((t) => taskResponse(dag, t)), request.query.order_by);
      return { tasks, total_entries: tasks.length };
    },
  );

  app.get<{ Params: { dag_id: string; task_id: string } }>(
    "/api/v2/dags/:dag_id/tasks/:task_id",
    { config: { access: "viewer" }, schema: { params: { type: "object", required: ["dag_id", "task_id"], properties: { dag_id: idString, task_id: idString } } } },
    async (request) => {
      const { dag_id: dagId, task_id: taskId } = request.params;
      const dag = await currentDag(store, dagId);
      const task = dag.tasks.find((t) => t.taskId === taskId);
      if (!task) throw notFound(`DAG '${dagId}' has no task '${taskId}': GET /api/v2/dags/${dagId}/tasks lists its tasks`);
      return taskResponse(dag, task);
    },
  );
}
