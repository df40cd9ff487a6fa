/**
 * The authoring API: `dag()` runs a build function in which `task()` and `bash()` declare tasks, and
 * `then()`, `after()` and `chain()` declare dependencies.
 *
 *     dag("etl", { schedule: "@daily", start: "2025-01-01" }, () => {
 *       const extract = bash("extract", "./extract.sh");
 *       extract.then([task("clean", clean), task("count", count)]);
 *     });
 */

import { DagDefinitionError } from "../errors.js";
import { registerDag } from "./registry.js";
import { serializeDag } from "./serialize.js";
import type { Dag, DagOptions, SerializedDag, TaskFunction, TaskKind, TaskOptions, TaskRef } from "./types.js";
import {
  checkAcyclic,
  checkUniqueTaskId,
  crossDagDependencyError,
  dagLabel,
  taskLabel,
  validateDagId,
  validateDagOptions,
  validateTaskId,
  validateTaskOptions,
} from "./validate.js";

class DagNode implements Dag {
  readonly tasks = new Map<string, TaskNode>();
  /** Set once the build function has returned; the DAG is then validated and may not change. */
  built = false;

  constructor(
    readonly dagId: string,
    readonly options: Readonly<DagOptions>,
  ) {}

  serialize(fileloc: string): SerializedDag {
    return serializeDag(this, fileloc);
  }
}

class TaskNode implements TaskRef {
  readonly upstream = new Set<TaskNode>();
  readonly downstream = new Set<TaskNode>();

  constructor(
    readonly owner: DagNode,
    readonly taskId: string,
    readonly kind: TaskKind,
    readonly options: Readonly<TaskOptions>,
    readonly fn?: TaskFunction,
    readonly command?: string,
  ) {}

  get dagId(): string {
    return this.owner.dagId;
  }

  then<T extends TaskRef | readonly TaskRef[]>(next: T): T {
    for (const downstream of taskList(next, this, "then")) link(this, downstream);
    return next;
  }

  after(previous: TaskRef | readonly TaskRef[]): TaskRef {
    for (const upstream of taskList(previous, this, "after")) link(upstream, this);
    return this;
  }
}

/** DAGs whose build function is running, innermost last; tasks join the innermost. */
const building: DagNode[] = [];

/**
 * Defines a DAG: runs `build`, in which `task()`/`bash()` calls declare the DAG's tasks, then validates
 * the DAG and registers it in the process-global registry.
 *
 * @param id letters, digits, '_', '-' and '.'; at most 250 characters; unique among registered DAGs.
 * @param options schedule, start, timezone and the other DAG options (see `DagOptions` for defaults).
 * @param build declares the tasks and their dependencies; must be synchronous.
 * @throws DagDefinitionError naming the DAG (and task) when the definition is invalid.
 */
export function dag(id: string, options: DagOptions, build: () => void): Dag {
  validateDagId(id);
  validateDagOptions(id, options);
  if (typeof build !== "function") {
    throw new DagDefinitionError(`${dagLabel(id)}: the third argument of dag() must be a function that declares the tasks`);
  }

  const node = new DagNode(id, freezeDagOptions(options));
  building.push(node);
  try {
    const result: unknown = build();
    if (isThenable(result) && !(result instanceof TaskNode)) {
      // Tasks declared after an await would land outside the build, so only synchronous builds work.
      throw new DagDefinitionError(
        `${dagLabel(id)}: the build function returned a Promise; it must be synchronous (declare tasks without await)`,
      );
    }
  } finally {
    building.pop();
    node.built = true;
  }

  checkAcyclic(id, node.tasks);
  registerDag(node);
  return node;
}

/**
 * Declares a function task in the DAG being built.
 *
 * @param id letters, digits, '_', '-' and '.'; unique within the DAG.
 * @param fn the task body; its JSON-serializable return value is kept as the task's result.
 * @param options retries, timeouts, pool... (see `TaskOptions` for defaults); the DAG's `defaults` fill gaps.
 */
export function task(id: string, fn: TaskFunction, options?: TaskOptions): TaskRef {
  const owner = ownerOf(id);
  if (typeof fn !== "function") {
    throw new DagDefinitionError(`${taskLabel(owner.dagId, id)}: task() needs a function as its second argument`);
  }
  return addTask(owner, id, "function", options, fn, undefined);
}

/**
 * Declares a bash task in the DAG being built: `command` runs in a shell.
 *
 * @param id letters, digits, '_', '-' and '.'; unique within the DAG.
 * @param command the shell command line.
 * @param options retries, timeouts, pool... (see `TaskOptions` for defaults); the DAG's `defaults` fill gaps.
 */
export function bash(id: string, command: string, options?: TaskOptions): TaskRef {
  const owner = ownerOf(id);
  if (typeof command !== "string" || command.trim() === "") {
    throw new DagDefinitionError(`${taskLabel(owner.dagId, id)}: bash() needs a non-empty command string as its second argument`);
  }
  return addTask(owner, id, "bash", options, undefined, command);
}

/**
 * Declares a sequence: every task of an item waits for every task of the item before it.
 * `chain(a, [b, c], d)` makes b and c wait for a, and d wait for both b and c.
 */
export function chain(...items: Array<TaskRef | readonly TaskRef[]>): void {
  for (let index = 1; index < items.length; index++) {
    for (const upstream of taskList(items[index - 1], undefined, "chain")) {
      for (const downstream of taskList(items[index], undefined, "chain")) link(upstream, downstream);
    }
  }
}

/** The DAG a new task joins (the one being built), once the task id is checked. */
function ownerOf(taskId: string): DagNode {
  const owner = building.at(-1);
  if (owner === undefined) {
    throw new DagDefinitionError(
      `task ${JSON.stringify(taskId)} was declared outside a DAG; declare tasks inside the build function of ` +
        "dag(id, options, () => { ... })",
    );
  }
  validateTaskId(owner.dagId, taskId);
  return owner;
}

function addTask(
  owner: DagNode,
  id: string,
  kind: TaskKind,
  options: TaskOptions | undefined,
  fn: TaskFunction | undefined,
  command: string | undefined,
): TaskRef {
  checkUniqueTaskId(owner.dagId, id, owner.tasks);
  validateTaskOptions(taskLabel(owner.dagId, id), options);
  const node = new TaskNode(owner, id, kind, freezeTaskOptions(options ?? {}), fn, command);
  owner.tasks.set(id, node);
  return node;
}

/** Records that `downstream` waits for `upstream`. */
function link(upstream: TaskNode, downstream: TaskNode): void {
  if (upstream.owner !== downstream.owner) throw crossDagDependencyError(upstream, downstream);
  if (upstream.owner.built) {
    // Edges added after validation would escape the cycle check and the serialized DAG.
    throw new DagDefinitionError(
      `${taskLabel(downstream.dagId, downstream.taskId)}: the dependency on '${upstream.taskId}' was declared after ` +
        `dag() returned; declare dependencies inside the DAG's build function`,
    );
  }
  upstream.downstream.add(downstream);
  downstream.upstream.add(upstream);
}

/**
 * The tasks of a `then`/`after`/`chain` argument. A function argument means the task is being awaited
 * (`then` makes it look like a promise to `await`), which deserves a clear error.
 */
function taskList(value: unknown, context: TaskRef | undefined, method: string): TaskNode[] {
  const where = context === undefined ? `${method}()` : `${taskLabel(context.dagId, context.taskId)}: ${method}()`;
  if (typeof value === "function") {
    throw new DagDefinitionError(`${where} expects a task or an array of tasks, got a function; tasks are not promises, do not await them`);
  }
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (!(item instanceof TaskNode)) {
      throw new DagDefinitionError(`${where} expects a task (from task() or bash()) or an array of tasks, got ${describe(item)}`);
    }
    return item;
  });
}

function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "a nested array";
  return `a ${typeof value}`;
}

function isThenable(value: unknown): boolean {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** Copies so that changing the author's objects after `dag()` cannot bypass validation. */
function freezeTaskOptions(options: TaskOptions): Readonly<TaskOptions> {
  return Object.freeze({ ...options, ...(options.env ? { env: Object.freeze({ ...options.env }) } : {}) });
}

function freezeDagOptions(options: DagOptions): Readonly<DagOptions> {
  return Object.freeze({
    ...options,
    ...(options.defaults ? { defaults: freezeTaskOptions(options.defaults) } : {}),
    ...(options.tags ? { tags: Object.freeze([...options.tags]) as string[] } : {}),
    // Params are JSON in the DB; a JSON copy also detaches them from the author's objects.
    ...(options.params ? { params: JSON.parse(JSON.stringify(options.params)) as Record<string, unknown> } : {}),
  });
}
