/** Epoch fencing of scheduling transactions, on every dialect: a deposed scheduler cannot commit. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { StaleEpochError } from "../../src/errors.js";
import { fenced, renewLease, takeLease } from "../../src/scheduler/lease.js";
import { openStore, type Store } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrate.js";
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
      test("a takeover waits for the old leader's open scheduling transaction instead of interleaving", async () => {
        const leader = await takeLease(store, "node-a", 30_000);
        let release!: () => void;
        const holding = new Promise<void>((r) => (release = r));
        const order: string[] = [];
        const inFlight = fenced(store, leader, async () => {
          await holding;
          order.push("old leader committed");
        });
        await new Promise((r) => setTimeout(r, 200));
        const takeover = takeLease(other, "node-b", 30_000).then((l) => {
          order.push("takeover done");
          return l;
        });
        await new Promise((r) => setTimeout(r, 300));
        release();
        await inFlight;
        const next = await takeover;
        assert.deepEqual(order, ["old leader committed", "takeover done"]);
        assert.equal(next.epoch, leader.epoch + 1);
      });
    }
  });
}
