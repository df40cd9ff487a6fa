/** `aloft dags test` runs the run's DAG callbacks before it returns, as Airflow's `dags test` does. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runCli, tempDir, writeDags } from "../helpers/aloft.js";

test("aloft dags test runs the DAG's onFailure callback before it exits", { timeout: 120_000 }, async () => {
  const out = path.join(tempDir("dags-test-callbacks"), "calls.log");
  const dags = writeDags({
    "cb.ts": `import fs from "node:fs";
      import { dag, task } from "aloft";
      dag("cb", { onFailure: (ctx) => fs.appendFileSync(${JSON.stringify(out)}, ctx.dagId + " " + ctx.state + "\\n") }, () => {
        task("a", () => { throw new Error("x"); });
      });`,
  });
  const result = await runCli(["dags", "test", path.join(dags, "cb.ts"), "--json"]);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(JSON.parse(result.stdout).state, "failed");
  assert.equal(fs.readFileSync(out, "utf8"), "cb failed\n");
});
