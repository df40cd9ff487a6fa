/**
 * The `/metrics` of a scheduler node's health server (`aloft scheduler --port`), with real nodes on
 * PostgreSQL and MariaDB: the active node shows the passes its scheduling child reports and its role
 * and epoch; a standby shows its role, epoch 0 and no passes.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { waitFor } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { HaCluster, type HaNode, withCluster } from "../helpers/ha.js";

const dialects = testDialects().filter((d) => d.dialect !== "sqlite");

/** The health server's address, from the line the controller logs once it runs. */
async function metricsUrl(node: HaNode): Promise<string> {
  const line = await node.waitForLog("Aloft controller is running", 60_000);
  return `${String(line.url)}/metrics`;
}

/** The value of one sample (`name{labels} value`) of a Prometheus text page; undefined when absent. */
function sample(page: string, series: string): number | undefined {
  const line = page.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<{ contentType: string; page: string }> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return { contentType: response.headers.get("content-type") ?? "", page: await response.text() };
}

for (const factory of dialects) {
  describe(`a scheduler node's /metrics on ${factory.dialect}`, { timeout: 180_000 }, () => {
    let cluster: HaCluster;
    beforeEach(async () => {
      cluster = new HaCluster(await factory.create());
      await cluster.setup({ workload: false });
    });
    afterEach(async () => {
      await cluster.teardown();
    });

    test("the active node counts its child's scheduling passes and shows its role and epoch; a standby shows none", async () => {
      const a = cluster.node("a", { priority: 200 });
      const b = cluster.node("b", { priority: 100 });
      await withCluster(cluster, async () => {
        a.start();
        const { epoch } = await cluster.waitForLeader({ be: a, timeoutMs: 60_000 });
        b.start();
        const [urlA, urlB] = [await metricsUrl(a), await metricsUrl(b)];
        await b.waitForLog("standby");

        // The child reports its passes with its heartbeats: the count grows while it runs.
        const passes = await waitFor(
          "the active node's /metrics to count scheduling passes",
          async () => {
            const count = sample((await scrape(urlA)).page, "aloft_scheduler_loop_seconds_count");
            return count !== undefined && count > 0 ? count : undefined;
          },
          30_000,
          200,
        );
        const { contentType, page } = await scrape(urlA);
        assert.match(contentType, /^text\/plain; version=0\.0\.4/);
        assert.match(page, /# TYPE aloft_scheduler_loop_seconds histogram/);
        assert.ok((sample(page, "aloft_scheduler_loop_seconds_count") ?? 0) >= passes);
        assert.ok((sample(page, "aloft_scheduler_loop_seconds_sum") ?? -1) >= 0);
        assert.equal(sample(page, 'aloft_ha_role{node_id="a",role="active"}'), 1);
        assert.equal(sample(page, 'aloft_ha_role{node_id="a",role="standby"}'), 0);
        assert.equal(sample(page, 'aloft_ha_epoch{node_id="a"}'), epoch);

        const standby = (await scrape(urlB)).page;
        assert.equal(sample(standby, 'aloft_ha_role{node_id="b",role="standby"}'), 1);
        assert.equal(sample(standby, 'aloft_ha_role{node_id="b",role="active"}'), 0);
        assert.equal(sample(standby, 'aloft_ha_epoch{node_id="b"}'), 0);
        assert.equal(sample(standby, "aloft_scheduler_loop_seconds_count"), 0);
      });
    });
  });
}
