/**
 * The scheduling loop as the scheduler controller runs it on the active node: `node scheduler-child.js
 * [--dags DIR]`, with the controller's settings in its environment and the epoch of the lease the
 * controller holds in ALOFT_HA_EPOCH. Every write it makes is fenced by that epoch; it reports a
 * heartbeat to the controller after each pass (with the pass times, for the node's /metrics) and
 * stops at once when the controller is gone.
 *
 * An entry point of its own (not the CLI): it loads only what scheduling needs, since its start-up is
 * part of every failover and every restart in place.
 */
import { parseArgs } from "node:util";
import type { Engine } from "../engine.js";
import { dieWithParent } from "../util/orphan-watchdog.js";
import { FENCED_EXIT_CODE } from "./exit-codes.js";

// First, before loading the rest of Aloft (a second or more on a busy machine, during which the event
// loop cannot hear the IPC channel close): a watchdog thread that kills this process once its
// controller is gone, so an orphan never runs beside the next leader's child.
dieWithParent({ wholeGroup: false, everyMs: 25 });
const { loadConfig } = await import("../config.js");
const { startEngine } = await import("../engine.js");
const { StaleEpochError } = await import("../errors.js");
const { createLogger } = await import("../logging.js");
const { openStore } = await import("../store/db.js");

const HEARTBEAT_EVERY_MS = 200;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dags: { type: "string" } } });
  const { config } = loadConfig({ flags: { dagsFolder: values.dags } });
  const logger = createLogger(config.logLevel, "scheduler");
  const epoch = Number(process.env.ALOFT_HA_EPOCH);
  const holder = process.env.ALOFT_HA_NODE ?? "";
  if (!process.send || !Number.isInteger(epoch) || epoch <= 0) {
    process.stderr.write("aloft: the scheduling child is started by `aloft scheduler`; run that instead\n");
    process.exit(2);
  }
  // The controller is gone (even killed with -9): stop at once; runners die with this process.
  process.on("disconnect", () => {
    logger.error({ epoch }, "the controller is gone; stopping the scheduling loop at once");
    process.exit(1);
  });
  const store = await openStore(config.databaseUrl);
  let engine: Engine;
  try {
    engine = await startEngine({ store, config, logger, dags: values.dags !== undefined ? "watch" : "none", lease: { holder, epoch } });
  } catch (error) {
    if (error instanceof StaleEpochError) {
      logger.error({ err: error.message }, "scheduler deposed before it started");
      process.exit(FENCED_EXIT_CODE);
    }
    throw error;
  }
  // startEngine made its first fenced commit (orphaned tries) under this epoch.
  logger.info({ epoch, node_id: holder, startup_ms: Math.round(process.uptime() * 1000) }, "scheduling loop running");
  let lastBeat = 0;
  // Pass times since the last heartbeat, which carries them to the controller's /metrics.
  let passMs: number[] = [];
  engine.scheduler.on("passed", (ms) => {
    passMs.push(ms);
    if (Date.now() - lastBeat < HEARTBEAT_EVERY_MS) return;
    lastBeat = Date.now();
    process.send?.({ type: "heartbeat", passMs });
    passMs = [];
  });
  const exitCode = await new Promise<number>((resolve) => {
    const stop = (code: number, graceMs: number) => {
      void engine
        .stop(graceMs)
        .then(() => store.close())
        .finally(() => resolve(code));
    };
    engine.scheduler.on("deposed", () => stop(FENCED_EXIT_CODE, 0));
    process.on("SIGTERM", () => stop(0, config.shutdownGraceMs));
    process.on("SIGINT", () => stop(0, config.shutdownGraceMs));
  });
  process.exit(exitCode);
}

main().catch((error: Error) => {
  process.stderr.write(`aloft scheduler child: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
