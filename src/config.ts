/**
 * Effective configuration: command-line flags over `ALOFT_*` environment variables over the config
 * file (`$ALOFT_HOME/aloft.toml`, or the file named by `--config` / `ALOFT_CONFIG`) over defaults.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { UsageError } from "./errors.js";
import { PACKAGE_ROOT } from "./paths.js";
import { maskDatabaseUrl } from "./store/url.js";
import type { NodeTaskEnvironment } from "./executor/task-environment.js";
import { describeTaskEnvironmentConfig, parseTaskEnvironmentConfig, TASK_ENVIRONMENT_SECTION } from "./executor/task-environment-config.js";
import { DEFAULT_TASK_LOG_MAX_BYTES } from "./executor/try-logs.js";

export interface AloftConfig {
  /** Folder for the SQLite file, logs and compiled DAG modules. Default `~/aloft`. */
  home: string;
  /** Metadata DB. Default `sqlite:///$ALOFT_HOME/aloft.db`. */
  databaseUrl: string;
  /** Folder of DAG files. Default: the example DAGs shipped with Aloft. */
  dagsFolder: string;
  /** Task tries queued or running at once, per scheduler. Default 32. */
  parallelism: number;
  /** Runner processes kept started and idle, ready for the next try. Default 2. */
  warmRunners: number;
  /** Longest one DAG file may take to import. Default 30000 ms. */
  parseTimeoutMs: number;
  /** How often the DAG folder is parsed again. Default 30000 ms. */
  parseIntervalMs: number;
  /** Whether new DAGs start paused. Default false (Airflow's default is true). */
  pausedAtCreation: boolean;
  /** On Ctrl-C or SIGTERM, how long running tries may take to finish before they are stopped. Default 30000 ms. */
  shutdownGraceMs: number;
  /** Port of the HTTP server (API and UI) of standalone and `aloft api`. Default 8080. */
  port: number;
  /** Address the HTTP server listens on. Default 127.0.0.1 (this machine only). */
  host: string;
  /** How long a bearer token or a UI session lasts. Default 86400000 ms (a day). */
  apiTokenTtlMs: number;
  /** trace, debug, info, warn, error. Default info. */
  logLevel: string;
  /**
   * Key that encrypts connection passwords, extras and variables at rest (any string; an AES-256 key
   * is derived from it with scrypt). Default "": a random key generated once into `$ALOFT_HOME/secret_key`.
   */
  secretKey: string;
  /** Largest XCom value (JSON bytes) a task may push or return. Default 1048576 (1 MiB). */
  xcomMaxBytes: number;
  /** Most task instances one mapped task may expand into. Default 1024. */
  maxMapLength: number;
  /**
   * What runs the scheduler's tries: "local" (runner processes in the scheduler's process), or a broker
   * URL (redis://… or amqp://…) that `aloft worker` processes consume. Default "local".
   */
  executor: string;
  /** Tries one `aloft worker` runs at once (its --concurrency). Default 16. */
  workerConcurrency: number;
  /** How often a worker records its heartbeat in the DB. Default 5000 ms. */
  workerHeartbeatMs: number;
  /** A worker silent for this long (DB time) is dead: its running tries are retried or failed. Default 30000 ms. */
  workerTimeoutMs: number;
  /**
   * A try sent to a broker and still unclaimed after this long is sent again (a broker that restarted
   * empty loses its messages; a repeated delivery only loses its claim). Default 60000 ms.
   */
  brokerResendMs: number;
  /** Size cap of each try's log: its first and last halves are kept, the middle left out. 0: no cap. Default 4194304 (4 MiB). */
  taskLogMaxBytes: number;
  /**
   * Env vars, PATH additions and a preamble for every task this node runs, and per queue: the config
   * file's [task_environment] section (see docs/task-environment.md). Default: none.
   */
  taskEnvironment: NodeTaskEnvironment;
  /** Shared secret every controller of an HA cluster proves it knows. Default "": the secret_key. */
  haSecret: string;
  /** This controller's name in its cluster. Default: the host name. */
  haNodeId: string;
  /** A healthy node of higher priority takes the lead from a lower one (after ha_preempt_delay_ms). Default 100. */
  haPriority: number;
  /** Never take the lead from a live active node, whatever the priorities. Default false. */
  haNoPreempt: boolean;
  /** How long a leader's lease lasts without renewal (DB time). Default 10000 ms. */
  haLeaseMs: number;
  /** How often the leader renews its lease. Default 500 ms. */
  haRenewMs: number;
  /** How often a standby looks at the lease. Default 250 ms. */
  haPollMs: number;
  /** How long a node of higher priority waits, healthy and standby, before it takes the lead. Default 30000 ms. */
  haPreemptDelayMs: number;
  /** A child silent (no heartbeat, or failing its health check) for this long is hung: it is killed and restarted. Default 15000 ms. */
  haChildTimeoutMs: number;
  /** How long a started child has to report healthy for the first time (loading, connecting). Default 60000 ms. */
  haChildStartupTimeoutMs: number;
  /** Failed starts of the child within ha_restart_window_ms after which the node steps down. Default 5. */
  haMaxRestarts: number;
  haRestartWindowMs: number;
  /** How long a child may take to stop after SIGTERM before it is killed. Default 10000 ms. */
  haStopTimeoutMs: number;
  /** Command (run with bash) on becoming active, losing leadership and giving up. Default none. */
  haHookCommand: string;
  /** URL that gets a JSON POST on the same transitions. Default none. */
  haHookUrl: string;
}

type Source = "default" | "file" | "env" | "flag";
type Kind = "string" | "path" | "int" | "bool";

interface Setting {
  key: keyof AloftConfig;
  /** Name in the config file and, upper-cased with ALOFT_, in the environment. */
  name: string;
  kind: Kind;
  secret?: boolean;
  fallback: (home: string) => string | number | boolean;
}

export const EXAMPLE_DAGS_FOLDER = path.join(PACKAGE_ROOT, "examples/dags");

const SETTINGS: Setting[] = [
  { key: "databaseUrl", name: "database_url", kind: "string", secret: true, fallback: (h) => `sqlite://${path.join(h, "aloft.db")}` },
  { key: "dagsFolder", name: "dags_folder", kind: "path", fallback: () => EXAMPLE_DAGS_FOLDER },
  { key: "parallelism", name: "parallelism", kind: "int", fallback: () => 32 },
  { key: "warmRunners", name: "warm_runners", kind: "int", fallback: () => 2 },
  { key: "parseTimeoutMs", name: "parse_timeout_ms", kind: "int", fallback: () => 30_000 },
  { key: "parseIntervalMs", name: "parse_interval_ms", kind: "int", fallback: () => 30_000 },
  { key: "pausedAtCreation", name: "paused_at_creation", kind: "bool", fallback: () => false },
  { key: "shutdownGraceMs", name: "shutdown_grace_ms", kind: "int", fallback: () => 30_000 },
  { key: "port", name: "port", kind: "int", fallback: () => 8080 },
  { key: "host", name: "host", kind: "string", fallback: () => "127.0.0.1" },
  { key: "apiTokenTtlMs", name: "api_token_ttl_ms", kind: "int", fallback: () => 86_400_000 },
  { key: "logLevel", name: "log_level", kind: "string", fallback: () => "info" },
  { key: "secretKey", name: "secret_key", kind: "string", secret: true, fallback: () => "" },
  { key: "xcomMaxBytes", name: "xcom_max_bytes", kind: "int", fallback: () => 1_048_576 },
  { key: "maxMapLength", name: "max_map_length", kind: "int", fallback: () => 1024 },
  { key: "executor", name: "executor", kind: "string", secret: true, fallback: () => "local" },
  { key: "workerConcurrency", name: "worker_concurrency", kind: "int", fallback: () => 16 },
  { key: "workerHeartbeatMs", name: "worker_heartbeat_ms", kind: "int", fallback: () => 5_000 },
  { key: "workerTimeoutMs", name: "worker_timeout_ms", kind: "int", fallback: () => 30_000 },
  { key: "brokerResendMs", name: "broker_resend_ms", kind: "int", fallback: () => 60_000 },
  { key: "taskLogMaxBytes", name: "task_log_max_bytes", kind: "int", fallback: () => DEFAULT_TASK_LOG_MAX_BYTES },
  { key: "haSecret", name: "ha_secret", kind: "string", secret: true, fallback: () => "" },
  { key: "haNodeId", name: "ha_node_id", kind: "string", fallback: () => os.hostname() },
  { key: "haPriority", name: "ha_priority", kind: "int", fallback: () => 100 },
  { key: "haNoPreempt", name: "ha_no_preempt", kind: "bool", fallback: () => false },
  { key: "haLeaseMs", name: "ha_lease_ms", kind: "int", fallback: () => 10_000 },
  { key: "haRenewMs", name: "ha_renew_ms", kind: "int", fallback: () => 500 },
  { key: "haPollMs", name: "ha_poll_ms", kind: "int", fallback: () => 250 },
  { key: "haPreemptDelayMs", name: "ha_preempt_delay_ms", kind: "int", fallback: () => 30_000 },
  { key: "haChildTimeoutMs", name: "ha_child_timeout_ms", kind: "int", fallback: () => 15_000 },
  { key: "haChildStartupTimeoutMs", name: "ha_child_startup_timeout_ms", kind: "int", fallback: () => 60_000 },
  { key: "haMaxRestarts", name: "ha_max_restarts", kind: "int", fallback: () => 5 },
  { key: "haRestartWindowMs", name: "ha_restart_window_ms", kind: "int", fallback: () => 60_000 },
  { key: "haStopTimeoutMs", name: "ha_stop_timeout_ms", kind: "int", fallback: () => 10_000 },
  { key: "haHookCommand", name: "ha_hook_command", kind: "string", fallback: () => "" },
  { key: "haHookUrl", name: "ha_hook_url", kind: "string", secret: true, fallback: () => "" },
];

export interface ResolvedConfig {
  config: AloftConfig;
  /** Where each value came from, for `aloft config show`. */
  sources: Record<keyof AloftConfig, Source>;
  configFile: string | null;
}

export interface ConfigInputs {
  /** Flags given on the command line, by config key. */
  flags?: Partial<Record<keyof AloftConfig, string | number | boolean | undefined>>;
  /** Explicit config file (`--config`). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(inputs: ConfigInputs = {}): ResolvedConfig {
  const env = inputs.env ?? process.env;
  const home = path.resolve(
    (inputs.flags?.home as string | undefined) ?? env.ALOFT_HOME ?? path.join(os.homedir(), "aloft"),
  );
  const fileName = inputs.configFile ?? env.ALOFT_CONFIG;
  const configFile = fileName ? path.resolve(fileName) : path.join(home, "aloft.toml");
  const fileValues = readConfigFile(configFile, Boolean(fileName));

  const config = { home } as AloftConfig;
  const sources = { home: inputs.flags?.home !== undefined ? "flag" : env.ALOFT_HOME ? "env" : "default" } as Record<
    keyof AloftConfig,
    Source
  >;
  for (const setting of SETTINGS) {
    const envName = `ALOFT_${setting.name.toUpperCase()}`;
    const flag = inputs.flags?.[setting.key];
    let raw: unknown;
    let source: Source;
    let where: string;
    if (flag !== undefined) [raw, source, where] = [flag, "flag", `flag for ${setting.name}`];
    else if (env[envName] !== undefined && env[envName] !== "") [raw, source, where] = [env[envName], "env", envName];
    else if (fileValues[setting.name] !== undefined)
      [raw, source, where] = [fileValues[setting.name], "file", `${setting.name} in ${configFile}`];
    else [raw, source, where] = [setting.fallback(home), "default", setting.name];
    (config as unknown as Record<string, unknown>)[setting.key] = coerce(setting.kind, raw, where);
    sources[setting.key] = source;
  }
  // A section of its own, set in the file only.
  config.taskEnvironment = parseTaskEnvironmentConfig(fileValues[TASK_ENVIRONMENT_SECTION], configFile);
  sources.taskEnvironment = fileValues[TASK_ENVIRONMENT_SECTION] === undefined ? "default" : "file";
  const unknown = Object.keys(fileValues).filter((k) => k !== TASK_ENVIRONMENT_SECTION && !SETTINGS.some((s) => s.name === k));
  if (unknown.length > 0) {
    throw new UsageError(
      `${configFile}: unknown setting ${unknown.map((k) => `'${k}'`).join(", ")}; ` +
        `valid settings: ${SETTINGS.map((s) => s.name).join(", ")}, [${TASK_ENVIRONMENT_SECTION}]`,
    );
  }
  return { config, sources, configFile: fs.existsSync(configFile) ? configFile : null };
}

/** Rows for `aloft config show`, with secrets masked. */
export function describeConfig(resolved: ResolvedConfig): Array<{ name: string; value: string; source: Source }> {
  const rows = [{ name: "home", value: resolved.config.home, source: resolved.sources.home }];
  for (const s of SETTINGS) {
    const value = String(resolved.config[s.key]);
    rows.push({ name: s.name, value: s.secret ? maskSecret(s, value) : value, source: resolved.sources[s.key] });
  }
  for (const row of describeTaskEnvironmentConfig(resolved.config.taskEnvironment)) rows.push({ ...row, source: resolved.sources.taskEnvironment });
  return rows;
}

function maskSecret(setting: Setting, value: string): string {
  if (setting.key === "databaseUrl" || setting.key === "executor") return maskDatabaseUrl(value);
  return value === "" ? "" : "***";
}

function readConfigFile(file: string, mustExist: boolean): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    if (mustExist) throw new UsageError(`config file ${file} does not exist: check --config or ALOFT_CONFIG`);
    return {};
  }
  try {
    return parseToml(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`config file ${file} is not valid TOML: ${(error as Error).message.split("\n")[0]}`);
  }
}

function coerce(kind: Kind, raw: unknown, where: string): string | number | boolean {
  switch (kind) {
    case "int": {
      const n = typeof raw === "number" ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`${where} must be a whole number ≥ 0, got '${String(raw)}'`);
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      const text = String(raw).toLowerCase();
      if (["true", "1", "yes", "on"].includes(text)) return true;
      if (["false", "0", "no", "off"].includes(text)) return false;
      throw new UsageError(`${where} must be true or false, got '${String(raw)}'`);
    }
    case "path":
      return path.resolve(String(raw));
    default:
      return String(raw);
  }
}
