/**
 * The config file's [task_environment] section (see task-environment.ts): read, checked (each problem
 * names the key and the file), and described for `aloft config show`.
 *
 *     [task_environment]
 *     env = { JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64" }
 *     path = ["/opt/hadoop/bin"]
 *     preamble = "source /etc/hadoop/conf/hadoop-env.sh"
 *     [task_environment.queues.spark]
 *     path = ["/opt/spark/bin"]
 */
import { UsageError } from "../errors.js";
import { EMPTY_TASK_ENVIRONMENT, pathEntryProblem, type NodeTaskEnvironment, type TaskEnvironment } from "./task-environment.js";

export const TASK_ENVIRONMENT_SECTION = "task_environment";

const SCOPE_KEYS = ["env", "path", "preamble"] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The section's value as parsed from the TOML file (undefined when absent). */
export function parseTaskEnvironmentConfig(raw: unknown, file: string): NodeTaskEnvironment {
  if (raw === undefined) return EMPTY_TASK_ENVIRONMENT;
  const where = (key: string) => `${key} in ${file}`;
  const section = table(raw, where(TASK_ENVIRONMENT_SECTION));
  checkKeys(section, TASK_ENVIRONMENT_SECTION, [...SCOPE_KEYS, "queues"], file);
  const queues: Record<string, TaskEnvironment> = {};
  if (section.queues !== undefined) {
    const prefix = `${TASK_ENVIRONMENT_SECTION}.queues`;
    for (const [queue, value] of Object.entries(table(section.queues, where(prefix)))) {
      const key = `${prefix}.${queue}`;
      const scope = table(value, where(key));
      checkKeys(scope, key, SCOPE_KEYS, file);
      queues[queue] = parseScope(scope, key, file);
    }
  }
  return { ...parseScope(section, TASK_ENVIRONMENT_SECTION, file), queues };
}

function parseScope(scope: Record<string, unknown>, key: string, file: string): TaskEnvironment {
  const where = (name: string) => `${key}.${name} in ${file}`;
  const env: Record<string, string> = {};
  if (scope.env !== undefined) {
    for (const [name, value] of Object.entries(table(scope.env, where("env")))) {
      if (!ENV_NAME.test(name)) throw new UsageError(`${where(`env.${name}`)}: '${name}' is not a valid environment variable name (letters, digits and '_', not starting with a digit)`);
      if (typeof value !== "string") throw new UsageError(`${where(`env.${name}`)} must be a string, got ${describe(value)}`);
      env[name] = value;
    }
  }
  let path: string[] = [];
  if (scope.path !== undefined) {
    if (!Array.isArray(scope.path)) throw new UsageError(`${where("path")} must be an array of folders, got ${describe(scope.path)}`);
    path = scope.path.map((entry: unknown, index) => {
      const problem = pathEntryProblem(entry);
      if (problem) throw new UsageError(`${where(`path[${index}]`)} ${problem}, got ${describe(entry)}`);
      return entry as string;
    });
  }
  if (scope.preamble !== undefined && typeof scope.preamble !== "string") {
    throw new UsageError(`${where("preamble")} must be a string (a bash script), got ${describe(scope.preamble)}`);
  }
  return { env, path, preamble: (scope.preamble as string | undefined) ?? "" };
}

/**
 * Rows for `aloft config show`: variable names only (values may be tokens), PATH additions and
 * preambles as set. An unset section shows as its three empty deployment rows.
 */
export function describeTaskEnvironmentConfig(config: NodeTaskEnvironment): Array<{ name: string; value: string }> {
  const rows = (key: string, scope: TaskEnvironment) => [
    { name: `${key}.env`, value: Object.keys(scope.env).length === 0 ? "" : `${Object.keys(scope.env).join(", ")} (values hidden)` },
    { name: `${key}.path`, value: scope.path.join(":") },
    { name: `${key}.preamble`, value: scope.preamble.replaceAll("\n", "\\n") },
  ];
  return [
    ...rows(TASK_ENVIRONMENT_SECTION, config),
    ...Object.entries(config.queues).flatMap(([queue, scope]) => rows(`${TASK_ENVIRONMENT_SECTION}.queues.${queue}`, scope)),
  ];
}

function table(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date) {
    throw new UsageError(`${where} must be a table, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkKeys(value: Record<string, unknown>, key: string, valid: readonly string[], file: string): void {
  const unknown = Object.keys(value).filter((k) => !valid.includes(k));
  if (unknown.length > 0) {
    throw new UsageError(`${file}: unknown key ${unknown.map((k) => `'${key}.${k}'`).join(", ")}; valid keys of [${key}]: ${valid.join(", ")}`);
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (typeof value === "object" && value !== null) return "a table";
  return `${JSON.stringify(value)} (a ${typeof value})`;
}
