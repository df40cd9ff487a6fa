/** Structured logs: one JSON object a line on stderr, so stdout stays free for command output. */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level = process.env.ALOFT_LOG_LEVEL ?? "info", component = "aloft"): Logger {
  return pino({ level, base: { component } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (for in-process runs such as `aloft dags test`). */
export const silentLogger: Logger = pino({ level: "silent" });
