/**
 * The development loop: deploys a DAG folder again when its files change (fs.watch, debounced), and
 * every `pollMs` in case the platform's file events are missed (network filesystems, editors that
 * replace folders). Deploys run one at a time; an unchanged folder creates no new version.
 */
import fs from "node:fs";
import type { Logger } from "../logging.js";
import type { Store } from "../store/db.js";
import { deployBundle, type DeployOptions, type DeployReport } from "./deploy.js";

export interface WatchOptions extends DeployOptions {
  logger: Logger;
  /** Deploy at least this often (config parse_interval_ms). */
  pollMs: number;
  /** Quiet time after a file event before deploying, so that a save of several files is one deploy. Default 300 ms. */
  debounceMs?: number;
  /** Called after each deploy. */
  onDeployed: (report: DeployReport) => void;
}

/** Starts watching `dir`; returns a function that stops the watch and waits for a deploy in progress. */
export function watchDagFolder(store: Store, dir: string, options: WatchOptions): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let debounce: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;

  const deploy = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (poll) clearTimeout(poll);
    running = (async () => {
      try {
        options.onDeployed(await deployBundle(store, dir, options));
      } catch (error) {
        options.logger.error({ err: (error as Error).message, folder: dir }, "deploying the DAG folder failed");
      }
    })().finally(() => {
      running = undefined;
      if (stopped) return;
      if (again) {
        again = false;
        deploy();
      } else poll = setTimeout(deploy, options.pollMs);
    });
  };

  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(dir, { recursive: true }, (_event, name) => {
      if (name && /(^|[\\/])(node_modules|\.[^\\/]*)([\\/]|$)/.test(String(name))) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(deploy, options.debounceMs ?? 300);
    });
    watcher.on("error", (error) => options.logger.warn({ err: error.message, folder: dir }, "watching the DAG folder failed; polling only"));
  } catch (error) {
    options.logger.warn({ err: (error as Error).message, folder: dir }, "cannot watch the DAG folder; polling only");
  }
  poll = setTimeout(deploy, options.pollMs);

  return async () => {
    stopped = true;
    watcher?.close();
    if (debounce) clearTimeout(debounce);
    if (poll) clearTimeout(poll);
    await running;
  };
}
