/** The wait before a retry, checked against numbers computed with Airflow's own formula (Python hashlib). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_BACKOFF_MS, pythonDatetime, retryDelayMs } from "../../src/executor/retry-delay.js";

const JAN1 = Date.parse("2025-01-01T00:00:00Z");
const failed = (tryNumber: number, logicalDate = JAN1) => ({ dagId: "etl", taskId: "load", logicalDate, tryNumber });

describe("retryDelayMs", () => {
  test("without backoff the wait is the retry delay, whatever the try", () => {
    assert.equal(retryDelayMs({ retryDelayMs: 300_000 }, failed(1)), 300_000);
    assert.equal(retryDelayMs({ retryDelayMs: 300_000, maxRetryDelayMs: 1_000 }, failed(5)), 300_000);
  });

  test("with backoff: ceil(delay × 2^(try−1)) plus Airflow's SHA-1 jitter, exactly", () => {
    // min_backoff 300, 600, 1200, 2400 s; jitter = sha1("etl#load#2025-01-01 00:00:00+00:00#N") % min_backoff.
    const policy = { retryDelayMs: 300_000, retryExponentialBackoff: true };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => retryDelayMs(policy, failed(n)) / 1000),
      [489, 1044, 1286, 3865],
    );
  });

  test("with backoff the wait is at least 1 s, also for a zero or sub-second delay", () => {
    assert.equal(retryDelayMs({ retryDelayMs: 0, retryExponentialBackoff: true }, failed(1)), 1_000);
    assert.equal(retryDelayMs({ retryDelayMs: 300, retryExponentialBackoff: true }, failed(1)), 1_000);
  });

  test("the logical date is hashed as Python prints it, microseconds included", () => {
    assert.equal(pythonDatetime(JAN1), "2025-01-01 00:00:00+00:00");
    assert.equal(pythonDatetime(JAN1 + 123), "2025-01-01 00:00:00.123000+00:00");
    assert.equal(retryDelayMs({ retryDelayMs: 10_000, retryExponentialBackoff: true }, failed(2, JAN1 + 123)), 26_000);
  });

  test("maxRetryDelay caps the backoff; without it, 24 hours does", () => {
    assert.equal(retryDelayMs({ retryDelayMs: 300_000, retryExponentialBackoff: true, maxRetryDelayMs: 600_000 }, failed(3)), 600_000);
    assert.equal(retryDelayMs({ retryDelayMs: 300_000, retryExponentialBackoff: true }, failed(40)), MAX_BACKOFF_MS);
  });

  test("the same try of the same instance always gets the same wait; another date another one", () => {
    const policy = { retryDelayMs: 60_000, retryExponentialBackoff: true };
    assert.equal(retryDelayMs(policy, failed(2)), retryDelayMs(policy, failed(2)));
    const waits = new Set([0, 1, 2, 3, 4, 5].map((d) => retryDelayMs(policy, failed(2, JAN1 + d * 86_400_000))));
    assert.ok(waits.size > 1, "the jitter depends on the logical date");
    for (const wait of waits) assert.ok(wait >= 120_000 && wait < 240_000, `${wait} within [min_backoff, 2 × min_backoff)`);
  });
});
