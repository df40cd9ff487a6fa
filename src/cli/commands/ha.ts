/**
 * The HA commands: `aloft scheduler` (a controller supervising Aloft's scheduling loop), `aloft
 * controller -- CMD` (the same controller for any singleton command), and `aloft ha status`.
 */
import type { Command } from "commander";
import type { AloftConfig } from "../../config.js";
import { DatabaseError, UsageError } from "../../errors.js";
import { Controller } from "../../ha/controller.js";
import { Hooks } from "../../ha/hooks.js";
import { NodeMetrics } from "../../ha/metrics.js";
import { clusterStatus } from "../../ha/status.js";
import type { ChildSpec } from "../../ha/supervisor.js";
import { createLogger, type Logger } from "../../logging.js";
import { distModule } from "../../paths.js";
import { listDagFiles } from "../../processor/parse.js";
import { secretKeyMaterial } from "../../runtime/secrets.js";
import { SCHEDULER_LEASE } from "../../scheduler/lease.js";
import { createHttpServer } from "../../server/http.js";
import { openStore, type Store } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import { maskDatabaseUrl } from "../../store/url.js";
import { printRows, resolveConfig, withGlobalFlags, withStore, type GlobalFlags } from "../context.js";

interface NodeFlags extends GlobalFlags {
  nodeId?: string;
  priority?: string;
  preempt?: boolean;
}

interface SchedulerFlags extends NodeFlags {
  dags?: string;
  port?: string;
  executor?: string;
}

interface ControllerFlags extends NodeFlags {
  name: string;
  healthCmd?: string;
  healthUrl?: string;
}

const CLUSTER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function withNodeFlags(command: Command): Command {
  return withGlobalFlags(
    command
      .option("--node-id <id>", "this node's name in the cluster (config ha_node_id, default: the host name)")
      .option("--priority <n>", "a healthy node of higher priority takes the lead from a lower one (config ha_priority, default 100)")
      .option("--no-preempt", "never take the lead from a live active node, whatever the priorities (config ha_no_preempt)"),
  );
}

function nodeOverrides(flags: NodeFlags) {
  return { haNodeId: flags.nodeId, haPriority: flags.priority, haNoPreempt: flags.preempt === false ? true : undefined };
}

export function registerHaCommands(program: Command): void {
  withNodeFlags(
    program
      .command("scheduler")
      .description("run this node's scheduler controller: joins the HA election; on the active node it runs and supervises the scheduling loop (DAGs come from `aloft deploy`)")
      .option("--dags <dir>", "also deploy this folder when active, and whenever its files change (a single-node setup)")
      .option("--port <n>", "HTTP port for health checks (env ALOFT_PORT, default 8080; 0 picks a free one)")
      .option("--executor <local|url>", "local, or a broker URL for remote workers (env ALOFT_EXECUTOR, default local)"),
  ).action((flags: SchedulerFlags) => runScheduler(flags));

  withNodeFlags(
    program
      .command("controller")
      .description("supervise any singleton command (for example `airflow scheduler`) with the HA controller: it runs on exactly one node of the cluster")
      .requiredOption("--name <name>", "the cluster's name: every node supervising the same command uses the same one")
      .option("--health-cmd <cmd>", "a command (bash) that exits 0 while the child is healthy; checked every few seconds")
      .option("--health-url <url>", "a URL that answers 2xx while the child is healthy")
      .argument("<command...>", "the command to supervise, after --"),
  ).action((command: string[], flags: ControllerFlags) => runController(command, flags));

  const ha = program.command("ha").description("high availability: the controllers of a cluster");
  withGlobalFlags(
    ha
      .command("status")
      .description("show a cluster's nodes, leader, epoch and recent transitions")
      .option("--name <name>", "the cluster (default: scheduler)", SCHEDULER_LEASE)
      .option("--json", "print JSON"),
  ).action((flags: GlobalFlags & { name: string; json?: boolean }) => showStatus(flags));
}

async function runScheduler(flags: SchedulerFlags): Promise<void> {
  const { config, configFile } = resolveConfig(flags, { dagsFolder: flags.dags, port: flags.port, executor: flags.executor, ...nodeOverrides(flags) });
  validateTimings(config);
  if (flags.dags !== undefined) listDagFiles(config.dagsFolder); // a missing folder is a usage error before anything starts
  const logger = createLogger(config.logLevel, "controller");
  const store = await openMigratedStore(config.databaseUrl, logger, 2);
  const child: ChildSpec = {
    kind: "aloft",
    program: distModule("ha/scheduler-child.js"),
    args: flags.dags !== undefined ? ["--dags", config.dagsFolder] : [],
    env: childEnv(config, configFile, SCHEDULER_LEASE),
  };
  const metrics = new NodeMetrics(config.haNodeId);
  const http = createHttpServer(store, metrics.registry);
  await http.listen({ port: config.port, host: "127.0.0.1" });
  const address = http.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  await runUntilSignal(
    config,
    SCHEDULER_LEASE,
    child,
    logger,
    { database: maskDatabaseUrl(config.databaseUrl), executor: maskDatabaseUrl(config.executor), url: `http://127.0.0.1:${port}` },
    async () => {
      await http.close();
      await store.close();
    },
    metrics,
  );
}

async function runController(command: string[], flags: ControllerFlags): Promise<void> {
  if (!CLUSTER_NAME.test(flags.name)) throw new UsageError(`--name '${flags.name}' is not a valid cluster name: use 1 to 64 letters, digits, '_', '.' or '-'`);
  if (flags.name === SCHEDULER_LEASE) throw new UsageError(`--name '${SCHEDULER_LEASE}' is the cluster of \`aloft scheduler\`; give the supervised command a name of its own`);
  if (flags.healthUrl) {
    try {
      new URL(flags.healthUrl);
    } catch {
      throw new UsageError(`--health-url '${flags.healthUrl}' is not a URL`);
    }
  }
  const { config, configFile } = resolveConfig(flags, nodeOverrides(flags));
  validateTimings(config);
  const logger = createLogger(config.logLevel, "controller");
  await (await openMigratedStore(config.databaseUrl, logger, 1)).close();
  const [program, ...args] = command;
  const child: ChildSpec = {
    kind: "command",
    command: program!,
    args,
    env: childEnv(config, configFile, flags.name),
    healthCommand: flags.healthCmd,
    healthUrl: flags.healthUrl,
  };
  await runUntilSignal(config, flags.name, child, logger, { database: maskDatabaseUrl(config.databaseUrl), command: command.join(" ") }, async () => undefined);
}

/**
 * Opens and migrates the DB, waiting while it is unreachable: a controller started during a DB outage
 * joins once the DB is back (exit code 2 is kept for usage errors and refusals, which a restart cannot fix).
 */
async function openMigratedStore(url: string, logger: Logger, poolSize: number): Promise<Store> {
  for (let attempt = 1; ; attempt++) {
    try {
      const store = await openStore(url, { poolSize });
      const migrated = await migrate(store);
      if (migrated.applied.length > 0) logger.info({ applied: migrated.applied }, "applied migrations");
      return store;
    } catch (error) {
      if (!(error instanceof DatabaseError)) throw error;
      logger.warn({ err: error.message, attempt }, "the metadata DB is not reachable yet; trying again");
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 500 * attempt)));
    }
  }
}

/** What the child needs to find the same DB and settings as its controller, and its place in the cluster. */
function childEnv(config: AloftConfig, configFile: string | null, cluster: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ALOFT_HOME: config.home,
    ALOFT_DATABASE_URL: config.databaseUrl,
    ALOFT_EXECUTOR: config.executor,
    ALOFT_LOG_LEVEL: config.logLevel,
    ...(configFile ? { ALOFT_CONFIG: configFile } : {}),
    ALOFT_HA_CLUSTER: cluster,
    ALOFT_HA_NODE: config.haNodeId,
    ALOFT_HA_SECRET: "", // the child does not need it
  };
}

async function runUntilSignal(
  config: AloftConfig,
  cluster: string,
  child: ChildSpec,
  logger: Logger,
  shown: Record<string, string>,
  cleanup: () => Promise<void>,
  metrics?: NodeMetrics,
): Promise<void> {
  const controller = new Controller({
    databaseUrl: config.databaseUrl,
    cluster,
    nodeId: config.haNodeId,
    priority: config.haPriority,
    noPreempt: config.haNoPreempt,
    secret: config.haSecret !== "" ? config.haSecret : secretKeyMaterial(config.secretKey, config.home),
    leaseMs: config.haLeaseMs,
    renewMs: config.haRenewMs,
    pollMs: config.haPollMs,
    preemptDelayMs: config.haPreemptDelayMs,
    childTimeoutMs: config.haChildTimeoutMs,
    childStartupTimeoutMs: config.haChildStartupTimeoutMs,
    stopTimeoutMs: config.haStopTimeoutMs,
    maxRestarts: config.haMaxRestarts,
    restartWindowMs: config.haRestartWindowMs,
    child,
    hooks: new Hooks({ command: config.haHookCommand, url: config.haHookUrl, logger }),
    logger,
    onChildPasses: metrics?.observePasses,
  });
  metrics?.follow(() => controller.state);
  try {
    await controller.start();
  } catch (error) {
    await cleanup();
    throw error;
  }
  logger.info({ cluster, node_id: config.haNodeId, priority: config.haPriority, ...shown }, "Aloft controller is running; stop it with Ctrl-C");
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, "stopping at once");
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, "stopping: the child stops first, then the lease is released (send the signal again to stop at once)");
      void controller
        .stop()
        .then(cleanup)
        .then(resolve, (error: Error) => {
          logger.error({ err: error.message }, "stopping failed");
          resolve();
        });
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
}

/** Settings that cannot work together: the leader must renew several times per lease. */
function validateTimings(config: AloftConfig): void {
  if (config.haRenewMs <= 0 || config.haPollMs <= 0) throw new UsageError("ha_renew_ms and ha_poll_ms must be greater than 0");
  if (config.haLeaseMs < 3 * config.haRenewMs) {
    throw new UsageError(`ha_lease_ms (${config.haLeaseMs}) must be at least 3 × ha_renew_ms (${config.haRenewMs}), so that a slow renewal does not end the lease`);
  }
}

async function showStatus(flags: GlobalFlags & { name: string; json?: boolean }): Promise<void> {
  await withStore(flags, async (store) => {
    const status = await clusterStatus(store, flags.name);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return;
    }
    const leader = status.leader
      ? `leader ${status.leader.node_id}, epoch ${status.leader.epoch}, lease renewed ${status.leader.renewed_ms_ago} ms ago, expires in ${status.leader.expires_in_ms} ms`
      : `no leader (epoch ${status.epoch ?? "none"})`;
    process.stdout.write(`cluster ${status.cluster}: ${leader}\n\n`);
    printRows(
      status.nodes.map((n) => ({ ...n, last_seen: `${(n.last_seen_ms_ago / 1000).toFixed(1)} s ago` })),
      false,
      ["node_id", "host", "pid", "priority", "no_preempt", "role", "last_seen", "child_pid", "child_health"],
    );
    process.stdout.write("\nrecent transitions (newest first):\n");
    printRows(status.events.slice(0, 20), false, ["at", "node_id", "from", "to", "epoch", "reason"]);
  });
}
