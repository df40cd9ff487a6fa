/**
 * Hooks on the transitions operators act on: becoming active, losing leadership, giving up after failed
 * restarts. A command (bash) and/or a webhook (JSON POST). Unlike fire-and-forget notify scripts, each
 * hook runs in order with a time limit, a webhook is retried, and every outcome is logged.
 */
import { spawn } from "node:child_process";
import type { Logger } from "../logging.js";

export type HookEvent = "became_active" | "lost_leadership" | "gave_up";

export interface HookPayload {
  event: HookEvent;
  cluster: string;
  node_id: string;
  epoch: number | null;
  reason: string;
  at: string;
}

const HOOK_TIMEOUT_MS = 30_000;
const WEBHOOK_ATTEMPTS = 3;

export class Hooks {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: { command: string; url: string; logger: Logger }) {}

  fire(payload: HookPayload): void {
    if (!this.options.command && !this.options.url) return;
    this.chain = this.chain.then(() => this.run(payload));
  }

  /** Waits for the hooks already fired (at shutdown). */
  async drain(): Promise<void> {
    await this.chain;
  }

  private async run(payload: HookPayload): Promise<void> {
    if (this.options.command) await this.runCommand(payload);
    if (this.options.url) await this.post(payload);
  }

  /** The command gets the controller's environment without its secrets (cluster secret, secret_key, DB URL). */
  private runCommand(payload: HookPayload): Promise<void> {
    const { logger } = this.options;
    return new Promise((resolve) => {
      const { ALOFT_HA_SECRET: _secret, ALOFT_SECRET_KEY: _key, ALOFT_DATABASE_URL: _url, ...inherited } = process.env;
      const env = {
        ...inherited,
        ALOFT_HA_EVENT: payload.event,
        ALOFT_HA_CLUSTER: payload.cluster,
        ALOFT_HA_NODE: payload.node_id,
        ALOFT_HA_EPOCH: payload.epoch === null ? "" : String(payload.epoch),
        ALOFT_HA_REASON: payload.reason,
      };
      const child = spawn("bash", ["-c", this.options.command], { env, stdio: ["ignore", "pipe", "pipe"], timeout: HOOK_TIMEOUT_MS, killSignal: "SIGKILL" });
      let output = "";
      const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      child.on("error", (error) => {
        logger.error({ hook_event: payload.event, err: error.message }, "HA hook command could not start");
        resolve();
      });
      child.on("close", (code, signal) => {
        const fields = { hook_event: payload.event, exit_code: code, signal, output: output.trim() };
        if (code === 0) logger.info(fields, "HA hook command succeeded");
        else logger.error(fields, signal ? `HA hook command was stopped after ${HOOK_TIMEOUT_MS / 1000} s` : "HA hook command failed");
        resolve();
      });
    });
  }

  private async post(payload: HookPayload): Promise<void> {
    const { logger } = this.options;
    const shown = originOf(this.options.url);
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      try {
        const response = await fetch(this.options.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(10_000),
        });
        if (response.ok) {
          logger.info({ hook_event: payload.event, url: shown, status: response.status }, "HA webhook delivered");
          return;
        }
        logger.warn({ hook_event: payload.event, url: shown, status: response.status, attempt }, "HA webhook refused");
      } catch (error) {
        logger.warn({ hook_event: payload.event, url: shown, err: (error as Error).message, attempt }, "HA webhook failed");
      }
      if (attempt < WEBHOOK_ATTEMPTS) await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
    logger.error({ hook_event: payload.event, url: shown, attempts: WEBHOOK_ATTEMPTS }, "HA webhook not delivered; giving up on this event");
  }
}

/** The webhook's scheme, host and path: credentials and query tokens are not logged. */
function originOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
