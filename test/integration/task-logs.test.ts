/**
 * Task log size caps (config task_log_max_bytes), on every dialect: the head and the tail of a long
 * log are kept, a marker line states what was left out, and readers following a running try still
 * account for every byte while appends trim the tail, also with several appenders at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { appendTryLogs, logCap, LOG_START, readTryLog, readTryLogAfter, type LogCursor } from "../../src/executor/try-logs.js";
import type { Store } from "../../src/store/db.js";
import { Harness } from "../helpers/harness.js";
import { testDialects, useMigratedDatabase } from "../helpers/dialects.js";

const MARKER = /\[\.\.\. (\d+) bytes of this try's log left out here: over task_log_max_bytes, the first and the last part are kept \.\.\.\]\n/g;

function append(store: Store, tiId: number, texts: string[], maxBytes: number): Promise<void> {
  const request = { tiId, tryNumber: 1, dagId: "d", runId: "r", taskId: "t", mapIndex: -1 };
  return store.transaction((trx) => appendTryLogs(trx, texts.map((text) => ({ request, text, at: Date.now() })), logCap(store, maxBytes)));
}

/** Bytes of log text stored for a try. */
async function storedBytes(store: Store, tiId: number): Promise<number> {
  const rows = await store.db.selectFrom("task_log").select("chunk").where("ti_id", "=", tiId).execute();
  return rows.reduce((n, r) => n + Buffer.byteLength(r.chunk), 0);
}

/** The marker counts in a text, and its bytes without the markers. */
function account(text: string): { omitted: number[]; shown: number } {
  const omitted = [...text.matchAll(MARKER)].map((m) => Number(m[1]));
  return { omitted, shown: Buffer.byteLength(text.replace(MARKER, "")) };
}

const line = (i: number) => `line ${String(i).padStart(6, "0")} ${"x".repeat(80)}\n`; // 93 bytes

for (const factory of testDialects()) {
  describe(`task log cap on ${factory.dialect}`, () => {
    const database = useMigratedDatabase(factory);

    test("a log under the cap is stored as written", async () => {
      await append(database.store, 1, ["first\n", "second\n"], 65_536);
      await append(database.store, 1, ["third\n"], 65_536);
      assert.equal(await readTryLog(database.store, 1, 1), "first\nsecond\nthird\n");
      assert.equal(await readTryLog(database.store, 999, 1), null);
    });

    test("over the cap: head, one marker with the bytes left out, tail", async () => {
      const cap = 65_536;
      const total = 30_000;
      for (let start = 0; start < total; start += 100) {
        await append(database.store, 2, Array.from({ length: 100 }, (_, i) => line(start + i)), cap);
      }
      const stored = await storedBytes(database.store, 2);
      assert.ok(stored <= cap, `stored ${stored} bytes, over the cap ${cap}`);
      const log = (await readTryLog(database.store, 2, 1))!;
      assert.ok(log.startsWith(line(0) + line(1)), log.slice(0, 200));
      assert.ok(log.endsWith(line(total - 2) + line(total - 1)), log.slice(-200));
      const { omitted, shown } = account(log);
      assert.equal(omitted.length, 1);
      assert.equal(shown, stored);
      assert.equal(omitted[0], total * 93 - stored);
      // Whole lines on each side of the marker.
      assert.match(log, /x\n\[\.\.\. \d+ bytes[^\n]*\]\nline \d{6} x+\n/);
    });

    test("a follower sees the head, then markers for what was trimmed before it read it, then the tail: every byte accounted for", async () => {
      const cap = 8_192;
      let cursor: LogCursor = LOG_START;
      let followed = "";
      const read = async () => {
        const next = await readTryLogAfter(database.store, 3, 1, cursor);
        followed += next.text;
        cursor = next.cursor;
      };
      let written = 0;
      for (let round = 0; round < 40; round++) {
        const texts = Array.from({ length: 20 }, (_, i) => line(round * 20 + i));
        written += texts.join("").length;
        await append(database.store, 3, texts, cap);
        // The follower falls behind now and then: what was trimmed meanwhile becomes a marker.
        if (round % 3 === 0) await read();
      }
      await read();
      const { omitted, shown } = account(followed);
      assert.ok(omitted.length > 1, "trimmed between reads");
      assert.equal(shown + omitted.reduce((a, b) => a + b, 0), written);
      assert.ok(followed.startsWith(line(0)));
      assert.ok(followed.endsWith(line(799)));
      // Nothing new: an empty read that keeps the cursor.
      const again = await readTryLogAfter(database.store, 3, 1, cursor);
      assert.deepEqual(again, { text: "", cursor });
    });

    test("several appenders at once keep one head, one tail and the cap", async () => {
      const cap = 16_384;
      await append(database.store, 4, [line(0)], cap);
      const writers = Array.from({ length: 6 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 15; i++) await append(database.store, 4, Array.from({ length: 10 }, (_, j) => line(1 + w * 1000 + i * 10 + j)), cap);
        })(),
      );
      await Promise.all(writers);
      const written = 93 * (1 + 6 * 15 * 10);
      const size = await database.store.db.selectFrom("task_log_size").selectAll().where("ti_id", "=", 4).executeTakeFirstOrThrow();
      assert.equal(Number(size.written_bytes), written);
      assert.ok((await storedBytes(database.store, 4)) <= cap);
      const log = (await readTryLog(database.store, 4, 1))!;
      const { omitted, shown } = account(log);
      assert.equal(omitted.length, 1);
      assert.equal(shown + omitted[0]!, written);
      for (const text of log.replace(MARKER, "").split("\n").slice(0, -1)) assert.match(text, /^line \d{6} x{80}$/);
    });

    test("text with multi-byte characters is never cut inside a character", async () => {
      const cap = 1_001;
      for (let i = 0; i < 50; i++) await append(database.store, 5, ["é€😀".repeat(17 + i)], cap);
      const log = (await readTryLog(database.store, 5, 1))!;
      assert.doesNotMatch(log, /\uFFFD/);
      assert.ok((await storedBytes(database.store, 5)) <= cap);
      assert.equal(account(log).omitted.length, 1);
    });
  });

  describe(`a bash task's long log on ${factory.dialect}`, () => {
    const h = new Harness(
      factory,
      {
        "loud.ts": `import { bash, dag } from "aloft";
          dag("loud", {}, () => {
            bash("print", "seq -f 'line %06g of the loud task' 1 100000; echo done printing");
          });`,
      },
      { taskLogMaxBytes: 65_536 },
    );
    before(() => h.start());
    after(() => h.stop());

    test("~3 MB printed under a 64 KiB cap: the first lines, a marker with the bytes left out, the last lines", async () => {
      const runId = await h.trigger("loud");
      assert.equal((await h.waitForRun("loud", runId)).state, "success");
      const log = (await h.log("loud", runId, "print"))!;
      const { omitted, shown } = account(log);
      assert.ok(shown <= 65_536, `stored ${shown} bytes`);
      assert.equal(omitted.length, 1);
      assert.ok(omitted[0]! > 2_800_000, `left out ${omitted[0]}`);
      const head = log.slice(0, log.search(MARKER));
      assert.match(head, /starting try 1[^\n]*\n[^\n]*running bash command[^\n]*\nline 000001 of the loud task\nline 000002 of the loud task\n/);
      assert.match(log, /line 100000 of the loud task\ndone printing\n[^\n]* INFO try ended: success\n$/);
    });
  });
}
