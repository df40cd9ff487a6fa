/**
 * The web UI's files at `/` and `/ui/assets/`, and its recent-runs read: what a browser gets, with
 * names that try to leave the UI's folder refused, and the reads behind the login.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, test } from "node:test";
import { useApi } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";

const DAGS = {
  "quick.ts": `import { dag, bash } from "aloft";
dag("quick", { schedule: null }, () => { bash("echo_it", "echo hi"); });
`,
  "other.ts": `import { dag, bash } from "aloft";
dag("other", { schedule: null }, () => { bash("echo_it", "echo hi"); });
`,
};

describe("web UI files", () => {
  const { api } = useApi(testDialects()[0]!, DAGS);
  before(() => {
    const built = spawnSync(process.execPath, ["scripts/build-ui.mjs"], { encoding: "utf8" });
    assert.equal(built.status, 0, built.stderr);
  });

  test("/ is the app's page, for anyone (the page itself asks for the login)", async () => {
    const page = await api.call("GET", "/", { as: null });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers["content-type"] as string, /^text\/html/);
    assert.match(page.body, /<script type="module" src="\/ui\/assets\/app\.js">/);
    assert.equal(page.headers["x-frame-options"], "DENY");
    const script = await api.call("GET", "/ui/assets/app.js", { as: null });
    assert.equal(script.statusCode, 200);
    assert.match(script.headers["content-type"] as string, /^text\/javascript/);
    assert.ok(script.body.length > 1000, "the bundle is there");
    const worker = await api.call("GET", "/ui/assets/layout-worker.js", { as: null });
    assert.equal(worker.statusCode, 200);
  });

  test("asset names with a path in them, or of other kinds, are 404 problems and never read outside dist/ui", async () => {
    for (const name of ["..%2F..%2Fpackage.json", "..%2Fapi%2Fserver.js", "%2Fetc%2Fpasswd", "app.ts", "..", "nothing-here.js"]) {
      const response = await api.call("GET", `/ui/assets/${name}`, { as: null });
      assert.equal(response.statusCode, 404, `${name}: ${response.body}`);
      assert.equal(response.json<{ status: number }>().status, 404);
      assert.doesNotMatch(response.body, /"name": "aloft"|root:/);
    }
  });
});

for (const factory of testDialects()) {
  describe(`UI recent runs on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    test("the latest runs of each DAG asked for, newest first, at most `limit`; a DAG without runs has an empty list", async () => {
      const runIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const runId = await harness.trigger("quick", { logicalDate: Date.UTC(2026, 0, 1 + i) });
        runIds.push(runId);
        await harness.waitForRun("quick", runId);
      }
      const response = await api.call("GET", "/ui/api/recent-runs?dag_ids=quick&dag_ids=other&limit=2");
      assert.equal(response.statusCode, 200, response.body);
      const { runs } = response.json<{ runs: Record<string, { run_id: string; state: string }[]> }>();
      assert.deepEqual(
        runs.quick!.map((r) => r.run_id),
        [runIds[2], runIds[1]],
      );
      assert.ok(runs.quick!.every((r) => r.state === "success"));
      assert.deepEqual(runs.other, []);
    });

    test("without credentials 401; a limit out of range is a 422 naming it", async () => {
      assert.equal((await api.call("GET", "/ui/api/recent-runs?dag_ids=quick", { as: null })).statusCode, 401);
      const bad = await api.call("GET", "/ui/api/recent-runs?dag_ids=quick&limit=500");
      assert.equal(bad.statusCode, 422, bad.body);
      assert.match(bad.body, /limit/);
    });
  });
}
