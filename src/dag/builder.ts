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
import { checkTemplateSyntax } from "../runtime/templates.js";
import { splitParams } from "./params.js";
import { registerDag } from "./registry.js";
import { serializeDag } from "./serialize.js";
import type {
  Dag,
  DagOptions,
  Dependable,
  SensorOptions,
  SerializedDag,
  TaskFunction,
  TaskGroupRef,
  TaskKind,
  TaskOperator,
  TaskOptions,
  TaskRef,
} from "./types.js";
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
  /** Task groups by id, in definition order (outer before inner). */
  readonly groups = new Map<string, GroupNode>();
  /** Groups whose build function is running, innermost last; tasks declared now join the innermost. */
  readonly openGroups: GroupNode[] = [];
  /** Set once the build function has returned; the DAG is then validated and may not change. */
  built = false;
  paramSchemas?: Record<string, Record<string, unknown>>;

  constructor(
    readonly dagId: string,
    readonly options: Readonly<DagOptions>,
  ) {}

  serialize(fileloc: string): SerializedDag {
    return serializeDag(this, fileloc);
  }
}

/** What `branch()`, `shortCircuit()` and `sensor()` add to a plain task. */
interface OperatorSpec {
  operator?: TaskOperator;
  sensorOptions?: Readonly<SensorOptions>;
  ignoreDownstreamTriggerRules?: boolean;
}

class TaskNode implements TaskRef {
  readonly upstream = new Set<TaskNode>();
  readonly downstream = new Set<TaskNode>();
  readonly operator?: TaskOperator;
  readonly sensorOptions?: Readonly<SensorOptions>;
  readonly ignoreDownstreamTriggerRules?: boolean;
  readonly group?: GroupNode;
  expandSource?: TaskNode;

  constructor(
    readonly owner: DagNode,
    readonly taskId: string,
    readonly kind: TaskKind,
    readonly options: Readonly<TaskOptions>,
    readonly fn?: TaskFunction,
    readonly command?: string,
    spec: OperatorSpec = {},
  ) {
    this.group = owner.openGroups.at(-1);
    if (spec.operator !== undefined) this.operator = spec.operator;
    if (spec.sensorOptions !== undefined) this.sensorOptions = spec.sensorOptions;
    if (spec.ignoreDownstreamTriggerRules !== undefined) this.ignoreDownstreamTriggerRules = spec.ignoreDownstreamTriggerRules;
  }

  get dagId(): string {
    return this.owner.dagId;
  }

  then<T extends Dependable | readonly Dependable[]>(next: T): T {
    for (const downstream of taskList(next, this, "then", "roots")) link(this, downstream);
    return next;
  }

  after(previous: Dependable | readonly Dependable[]): TaskRef {
    for (const upstream of taskList(previous, this, "after", "leaves")) link(upstream, this);
    return this;
  }

  expand(source: TaskRef): TaskRef {
    const where = taskLabel(this.dagId, this.taskId);
    if (Array.isArray(source) || source instanceof GroupNode) {
      throw new DagDefinitionError(`${where}: expand() takes one task, whose return value is the list to map over`);
    }
    const [node] = taskList(source, this, "expand", "leaves");
    if (this.expandSource) throw new DagDefinitionError(`${where}: expand() was already called (over '${this.expandSource.taskId}'); a task maps over one list`);
    if (node === this) throw new DagDefinitionError(`${where}: a task cannot expand over its own return value`);
    link(node!, this);
    this.expandSource = node;
    return this;
  }
}

/** A task group: a prefix for its tasks' ids, shared defaults, and roots/leaves for dependencies. */
class GroupNode implements TaskGroupRef {
  constructor(
    readonly owner: DagNode,
    readonly groupId: string,
    readonly defaults: Readonly<TaskOptions>,
    readonly parent: GroupNode | undefined,
    readonly tooltip: string | undefined,
  ) {}

  get dagId(): string {
    return this.owner.dagId;
  }

  get tasks(): TaskNode[] {
    return [...this.owner.tasks.values()].filter((t) => inGroup(t, this));
  }

  /** Tasks of the group with no upstream task inside the group. */
  roots(): TaskNode[] {
    return this.tasks.filter((t) => ![...t.upstream].some((u) => inGroup(u, this)));
  }

  /** Tasks of the group with no downstream task inside the group. */
  leaves(): TaskNode[] {
    return this.tasks.filter((t) => ![...t.downstream].some((d) => inGroup(d, this)));
  }

  then<T extends Dependable | readonly Dependable[]>(next: T): T {
    const where = `${dagLabel(this.dagId)}, group '${this.groupId}': then()`;
    for (const upstream of this.leaves()) for (const downstream of taskList(next, undefined, where, "roots")) link(upstream, downstream);
    return next;
  }

  after(previous: Dependable | readonly Dependable[]): TaskGroupRef {
    const where = `${dagLabel(this.dagId)}, group '${this.groupId}': after()`;
    for (const downstream of this.roots()) for (const upstream of taskList(previous, undefined, where, "leaves")) link(upstream, downstream);
    return this;
  }
}

function inGroup(task: TaskNode, group: GroupNode): boolean {
  for (let g = task.group; g !== undefined; g = g.parent) if (g === group) return true;
  return false;
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
  const { defaults: params, schemas: paramSchemas } = splitParams(id, options.params);
  if (options.params !== undefined) options = { ...options, params };
  const required = Object.keys(paramSchemas).filter((name) => params?.[name] === undefined);
  if (required.length > 0 && options.schedule != null) {
    // Scheduled runs have no conf to supply them (Airflow refuses this too).
    throw new DagDefinitionError(
      `${dagLabel(id)}: param ${required.map((n) => `'${n}'`).join(", ")} has no default, so the DAG cannot have a schedule; give a default or use schedule: null`,
    );
  }
  if (typeof build !== "function") {
    throw new DagDefinitionError(`${dagLabel(id)}: the third argument of dag() must be a function that declares the tasks`);
  }

  const node = new DagNode(id, freezeDagOptions(options));
  if (Object.keys(paramSchemas).length > 0) node.paramSchemas = paramSchemas;
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
  // Template syntax errors are load-time errors; names are only known when the try renders.
  const where = taskLabel(owner.dagId, id);
  try {
    checkTemplateSyntax(where, "the command", command);
    for (const [name, value] of Object.entries(options?.env ?? {})) {
      if (typeof value === "string") checkTemplateSyntax(where, `env ${name}`, value);
    }
  } catch (error) {
    throw new DagDefinitionError((error as Error).message);
  }
  return addTask(owner, id, "bash", options, undefined, command);
}

/**
 * Declares a sequence: every task of an item waits for every task of the item before it.
 * `chain(a, [b, c], d)` makes b and c wait for a, and d wait for both b and c.
 */
export function chain(...items: Array<Dependable | readonly Dependable[]>): void {
  for (let index = 1; index < items.length; index++) {
    for (const upstream of taskList(items[index - 1], undefined, "chain", "leaves")) {
      for (const downstream of taskList(items[index], undefined, "chain", "roots")) link(upstream, downstream);
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

/** The full id of a task or group declared now: prefixed by the open group's id (`group.task`). */
function qualifiedId(owner: DagNode, id: string): string {
  const group = owner.openGroups.at(-1);
  return group === undefined ? id : `${group.groupId}.${id}`;
}

function addTask(
  owner: DagNode,
  localId: string,
  kind: TaskKind,
  options: TaskOptions | undefined,
  fn: TaskFunction | undefined,
  command: string | undefined,
  spec?: OperatorSpec,
): TaskRef {
  const id = qualifiedId(owner, localId);
  validateTaskId(owner.dagId, id);
  checkUniqueTaskId(owner.dagId, id, owner.tasks);
  if (owner.groups.has(id)) {
    throw new DagDefinitionError(`${taskLabel(owner.dagId, id)}: a task group with this id is already defined in the DAG`);
  }
  validateTaskOptions(taskLabel(owner.dagId, id), options);
  const node = new TaskNode(owner, id, kind, freezeTaskOptions(options ?? {}), fn, command, spec);
  owner.tasks.set(id, node);
  return node;
}

/**
 * Internals for the structure API (structure.ts): declares a function or bash task with an operator
 * in the DAG being built. Not part of the public API.
 */
export function addOperatorTask(
  id: string,
  kind: TaskKind,
  body: { fn?: TaskFunction; command?: string },
  options: TaskOptions | undefined,
  spec: OperatorSpec,
): TaskRef {
  const owner = ownerOf(id);
  return addTask(owner, id, kind, options, body.fn, body.command, spec);
}

/** "DAG 'etl', task 'g.load'" for a task about to be declared with `id` in the DAG being built. */
export function pendingTaskLabel(id: string): string {
  const owner = ownerOf(id);
  return taskLabel(owner.dagId, qualifiedId(owner, id));
}

/** Internals for `group()`: runs `build` with a new group open; returns the group. */
export function buildGroup(id: string, defaults: TaskOptions, tooltip: string | undefined, build: () => void): TaskGroupRef {
  const owner = ownerOf(id);
  const groupId = qualifiedId(owner, id);
  validateTaskId(owner.dagId, groupId);
  if (owner.groups.has(groupId) || owner.tasks.has(groupId)) {
    throw new DagDefinitionError(`${dagLabel(owner.dagId)}, group '${groupId}': a task or group with this id is already defined in the DAG`);
  }
  validateTaskOptions(`${dagLabel(owner.dagId)}, group '${groupId}': defaults`, defaults);
  const group = new GroupNode(owner, groupId, freezeTaskOptions(defaults), owner.openGroups.at(-1), tooltip);
  owner.groups.set(groupId, group);
  owner.openGroups.push(group);
  try {
    const result: unknown = build();
    if (isThenable(result)) {
      throw new DagDefinitionError(`${dagLabel(owner.dagId)}, group '${groupId}': the build function returned a Promise; it must be synchronous`);
    }
  } finally {
    owner.openGroups.pop();
  }
  return group;
}

/** The groups of a built DAG, outer before inner (for serialization). */
export function dagGroups(dag: Dag): TaskGroupRef[] {
  return dag instanceof DagNode ? [...dag.groups.values()] : [];
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
function taskList(value: unknown, context: TaskRef | undefined, method: string, side: "roots" | "leaves"): TaskNode[] {
  const where = context !== undefined ? `${taskLabel(context.dagId, context.taskId)}: ${method}()` : method.includes("(") ? method : `${method}()`;
  if (typeof value === "function") {
    throw new DagDefinitionError(`${where} expects a task or an array of tasks, got a function; tasks are not promises, do not await them`);
  }
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items.flatMap((item) => {
    // A group stands for its roots when something goes into it, for its leaves when it leads out.
    if (item instanceof GroupNode) return side === "roots" ? item.roots() : item.leaves();
    if (!(item instanceof TaskNode)) {
      throw new DagDefinitionError(`${where} expects a task (from task() or bash()), a task group or an array of them, got ${describe(item)}`);
    }
    return [item];
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
  return Object.freeze({
    ...options,
    ...(options.env ? { env: Object.freeze({ ...options.env }) } : {}),
    ...(options.path ? { path: Object.freeze([...options.path]) } : {}),
  });
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
