/**
 * The task environment: environment variables, PATH additions and a preamble script that the tools
 * a task needs on its node call for (a cluster's client tools, an env script sourced first). It is
 * set per deployment (config [task_environment], every task this node runs), per queue
 * ([task_environment.queues.NAME], tasks sent to that queue) and per task (options env, path and
 * preamble). Later scopes win for variables; PATH additions come task first, then queue, then
 * deployment, then the node's PATH; preambles run deployment, queue, task.
 */

/** What one scope adds to a task's environment. */
export interface TaskEnvironment {
  /** Variables set for the task. Default {}. */
  env: Record<string, string>;
  /** Folders put before PATH, first one first. Default []. */
  path: string[];
  /** Bash script run before the task, in the same shell for bash tasks ("source /etc/hadoop/conf/hadoop-env.sh"). Default "": none. */
  preamble: string;
}

/** The config's [task_environment]: the node's environment for every task, and per queue. */
export interface NodeTaskEnvironment extends TaskEnvironment {
  /** By queue name. Default {}. */
  queues: Record<string, TaskEnvironment>;
}

export const EMPTY_TASK_ENVIRONMENT: NodeTaskEnvironment = Object.freeze({ env: {}, path: [], preamble: "", queues: {} });

/** One scope's part of a try's environment, named for messages: "deployment", "queue 'spark'", "task". */
export interface EnvironmentLayer extends Partial<TaskEnvironment> {
  scope: string;
}

/** A preamble to run before the task, with the scope that set it. */
export interface Preamble {
  scope: string;
  script: string;
}

export interface ResolvedEnvironment {
  /** Variables to set over the node's own environment; PATH is among them when some scope adds to it. */
  env: Record<string, string>;
  /** In the order they run. */
  preambles: Preamble[];
}

/** The node's layers for a try sent to `queue`: the deployment's, then the queue's; empty ones left out. */
export function nodeEnvironmentLayers(config: NodeTaskEnvironment | undefined, queue: string): EnvironmentLayer[] {
  if (!config) return [];
  const layers: EnvironmentLayer[] = [{ scope: "deployment", env: config.env, path: config.path, preamble: config.preamble }];
  const ofQueue = Object.hasOwn(config.queues, queue) ? config.queues[queue] : undefined;
  if (ofQueue) layers.push({ scope: `queue '${queue}'`, ...ofQueue });
  return layers.filter((layer) => !isEmptyLayer(layer));
}

export function isEmptyLayer(layer: EnvironmentLayer): boolean {
  return Object.keys(layer.env ?? {}).length === 0 && (layer.path ?? []).length === 0 && !layer.preamble?.trim();
}

/**
 * Merges layers given in order deployment, queue, task. `nodePath` is the node's PATH, which the
 * PATH additions go before (unless a layer's env sets PATH itself: then that is what they go before).
 */
export function resolveTaskEnvironment(layers: readonly EnvironmentLayer[], nodePath: string | undefined): ResolvedEnvironment {
  const env: Record<string, string> = {};
  for (const layer of layers) Object.assign(env, layer.env);
  const additions = [...layers].reverse().flatMap((layer) => layer.path ?? []);
  if (additions.length > 0) {
    const base = env.PATH ?? nodePath ?? "";
    env.PATH = [...additions, ...(base === "" ? [] : [base])].join(":");
  }
  const preambles = layers.filter((layer) => layer.preamble?.trim()).map((layer) => ({ scope: layer.scope, script: layer.preamble! }));
  return { env, preambles };
}

/**
 * A one-line account of the layers for the try's log: variable names only (values may be tokens),
 * PATH additions, and which scopes have a preamble.
 */
export function describeEnvironmentLayers(layers: readonly EnvironmentLayer[]): string {
  return layers
    .filter((layer) => !isEmptyLayer(layer))
    .map((layer) => {
      const parts: string[] = [];
      const names = Object.keys(layer.env ?? {});
      if (names.length > 0) parts.push(`env ${names.join(", ")}`);
      if ((layer.path ?? []).length > 0) parts.push(`path ${layer.path!.join(":")}`);
      if (layer.preamble?.trim()) parts.push("preamble");
      return `${layer.scope}: ${parts.join("; ")}`;
    })
    .join(" | ");
}

/** What is wrong with one PATH addition, or null: each must be one folder, so no ':' and not empty. */
export function pathEntryProblem(entry: unknown): string | null {
  if (typeof entry !== "string" || entry.trim() === "") return "must be a non-empty string (a folder)";
  if (entry.includes(":")) return "must be one folder: ':' separates PATH entries, give each folder as its own item";
  return null;
}

/** The requests with the node's layers for each one's queue attached (TryRequest.nodeEnvironment), for the runner. */
export function withNodeEnvironment<R extends { queue?: string; nodeEnvironment?: EnvironmentLayer[] }>(requests: R[], config: NodeTaskEnvironment | undefined): R[] {
  if (!config) return requests;
  return requests.map((r) => {
    const layers = nodeEnvironmentLayers(config, r.queue ?? "default");
    return layers.length > 0 ? { ...r, nodeEnvironment: layers } : r;
  });
}
