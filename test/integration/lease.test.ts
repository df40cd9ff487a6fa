/**
 * Epoch fencing of scheduling transactions, on every dialect: a deposed scheduler cannot commit, and
 * a frozen one cannot hold the new leader's transactions up for long.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { StaleEpochError } from "../../src/errors.js";
import { BLOCKED_FOR_MS, fenced, renewLease, takeLease } from "../../src/scheduler/lease.js";
import { openStore, type Store } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrate.js";
import { waitFor } from "../helpers/aloft.js";
import { testDialects, type TestDatabase } from "../helpers/dialects.js";

for (const factory of testDialects()) {
  describe(`scheduler lease on ${factory.dialect}`, () => {
    let db: TestDatabase;
    let store: Store;
    let other: Store;

    before(async () => {
      db = await factory.create();
      store = await openStore(db.url);
      await migrate(store);
      other = factory.dialect === "sqlite" ? store : await openStore(db.url);
    });
    after(async () => {
      if (other !== store) await other.close();
      await store.close();
      await db.drop();
    });

    test("each new holder gets a larger epoch; the old holder can neither commit nor renew", async () => {
      const first = await takeLease(store, "node-a", 30_000);
      assert.equal(await fenced(store, first, async () => "committed"), "committed");
      const second = await takeLease(other, "node-b", 30_000);
      assert.equal(second.epoch, first.epoch + 1);
      await assert.rejects(
        fenced(store, first, async (trx) => {
          await trx.insertInto("pool").values({ pool: "written_by_deposed", slots: 1, description: null }).execute();
        }),
        (error: unknown) => error instanceof StaleEpochError && /epoch 1 is stale \(current epoch: 2\)/.test(error.message),
      );
      const pool = await store.db.selectFrom("pool").select("pool").where("pool", "=", "written_by_deposed").executeTakeFirst();
      assert.equal(pool, undefined, "the deposed scheduler's write was committed");
      assert.equal(await renewLease(store, first, 30_000), false);
      assert.equal(await renewLease(other, second, 30_000), true);
    });

    if (factory.dialect !== "sqlite") {
      test("a takeover during the old leader's scheduling transaction does not wait for it, and that transaction commits nothing", async () => {
        const leader = await takeLease(store, "node-a", 30_000);
        let release!: () => void;
        const holding = new Promise<void>((r) => (release = r));
        const inFlight = fenced(store, leader, async (trx) => {
          await trx.insertInto("pool").values({ pool: "written_mid_takeover", slots: 1, description: null }).execute();
          await holding;
        });
        await new Promise((r) => setTimeout(r, 200));
        // The old transaction holds no lock on the lease row yet: the takeover goes through at once.
        const next = await takeLease(other, "node-b", 30_000);
        assert.equal(next.epoch, leader.epoch + 1);
        release();
        await assert.rejects(inFlight, (error: unknown) => error instanceof StaleEpochError);
        const pool = await other.db.selectFrom("pool").select("pool").where("pool", "=", "written_mid_takeover").executeTakeFirst();
        assert.equal(pool, undefined, "the deposed leader's write was committed");
      });

      test("a scheduling transaction blocked by a session that holds its rows and never finishes ends that session, then commits", async () => {
        const leader = await takeLease(store, "node-a", 30_000);
        await store.db.insertInto("pool").values({ pool: "held_by_frozen", slots: 1, description: null }).execute();
        // A writer frozen mid-transaction (a deposed leader under SIGSTOP): its row lock stays until its session ends.
        const frozen = await openStore(db.url, { poolSize: 1 });
        let ended: string[] = [];
        const watched = { ...leader, onBlockersEnded: (sessions: string[]) => (ended = sessions) };
        let thaw!: () => void;
        const frozenWrite = frozen.transaction(async (trx) => {
          await trx.updateTable("pool").set({ slots: 2 }).where("pool", "=", "held_by_frozen").execute();
          await new Promise<void>((r) => (thaw = r));
        });
        try {
          await new Promise((r) => setTimeout(r, 200));
          const startedAt = Date.now();
          await fenced(store, watched, async (trx) => {
            await trx.updateTable("pool").set({ slots: 3 }).where("pool", "=", "held_by_frozen").execute();
          });
          const waited = Date.now() - startedAt;
          assert.ok(waited >= BLOCKED_FOR_MS - 100, `it waited ${waited} ms before ending the blocker`);
          // Told once the look that ended it returns, which may be just after the freed update.
          await waitFor("the ended session to be reported", async () => (ended.length > 0 ? true : undefined), 5_000, 20);
          assert.equal(ended.length, 1, "one blocking session ended");
          const row = await store.db.selectFrom("pool").select("slots").where("pool", "=", "held_by_frozen").executeTakeFirstOrThrow();
          assert.equal(Number(row.slots), 3);
          // Thawed, the frozen writer finds its session gone: its commit fails.
          thaw();
          await assert.rejects(frozenWrite);
        } finally {
          thaw?.();
          await frozenWrite.catch(() => undefined);
          await frozen.close().catch(() => undefined);
        }
      });
    }
  });
}
