import type { Logger } from "../logging.js";

/**
 * Runs `fn` until it succeeds, waiting longer after each failure (100 ms doubling, at most 5 s): for
 * writes that must not be dropped while the database is away for a while.
 */
export async function retryUntilDone<T>(what: string, fn: () => Promise<T>, logger: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      logger.error({ err: (error as Error).message, attempt }, `${what} failed; trying again`);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
    }
  }
}
