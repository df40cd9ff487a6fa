/**
 * DAG bundles: deploys, versions, pruning, runs that keep the version they started with, a node with
 * no module files of its own, and the standalone development loop.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { moduleCacheFolder } from "../../src/bundle/module-cache.js";
import { listDagVersions, pruneDagVersions } from "../../src/bundle/versions.js";
import { runCli, Standalone, tempDir, waitFor, writeDags } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

const markers = tempDir("bundle-markers");

/** A DAG whose first task waits for a flag file, then a task that returns which version ran. */
const versionedDag = (dagId: string, version: string, flag: string) => `
  import fs from "node:fs";
  import { dag, task } from "aloft";
  dag(${JSON.stringify(dagId)}, { schedule: null }, () => {
    const wait = task("wait", async () => {
      while (!fs.existsSync(${JSON.stringify(flag)})) await new Promise((r) => setTimeout(r, 100));
    });
    wait.then(task("which", () => ${JSON.stringify(version)}));
  });`;

const plainDag = (dagId: string, result: string) => `
  import { dag, task } from "aloft";
  dag(${JSON.stringify(dagId)}, { schedule: null }, () => { task("t", () => ${JSON.stringify(result)}); });`;

for (const dialect of testDialects()) {
  describe(`DAG bundles (${dialect.dialect})`, () => {
    const flag = path.join(markers, `${dialect.dialect}-release`);
    const pinFlag = path.join(markers, `${dialect.dialect}-pin`);
    const h = new Harness(dialect, { "keep.ts": plainDag("keep", "k1"), "gone.ts": plainDag("gone", "g1") });
    before(() => h.start());
    after(() => h.stop());


    test("deploy reports added, changed, removed and import errors; identical content creates no version", async () => {
      assert.deepEqual([...h.firstParse.added].sort(), ["gone", "keep"]);
      assert.equal(h.firstParse.created, true);
      const first = h.firstParse.bundle!;

      const again = await h.reparse();
      assert.equal(again.created, false, "deploying the same folder again creates nothing");
      assert.deepEqual(again.bundle, first);
      assert.deepEqual([...again.unchanged].sort(), ["gone", "keep"]);
      assert.equal((await h.store.db.selectFrom("dag_bundle").select("id").execute()).length, 1);

      h.writeDags({ "keep.ts": plainDag("keep", "k2"), "broken.ts": `throw new Error("broken on purpose");` });
      fs.rmSync(path.join(h.dagsFolder, "gone.ts"));
      const report = await h.reparse("second deploy");
      assert.equal(report.created, true);
      assert.notEqual(report.bundle!.id, first.id);
      assert.deepEqual(report.added, []);
      assert.deepEqual(report.changed, ["keep"]);
      assert.deepEqual(report.removed, ["gone"]);
      assert.equal(report.importErrors.length, 1);
      assert.equal(report.importErrors[0]!.file, "broken.ts");
      assert.match(report.importErrors[0]!.message, /broken on purpose/);

      const versions = await listDagVersions(h.store, "keep");
      assert.deepEqual(
        versions.map((v) => [v.version_number, v.current, v.message, v.fileloc]),
        [
          [2, true, "second deploy", "keep.ts"],
          [1, false, null, "keep.ts"],
        ],
      );
      const gone = await h.store.db.selectFrom("dag").select(["is_active", "dag_version_id"]).where("dag_id", "=", "gone").executeTakeFirstOrThrow();
      assert.equal(gone.is_active, 0);
      fs.rmSync(path.join(h.dagsFolder, "broken.ts"));
    });

    test("a run finishes on the version it started with when a new bundle is deployed mid-run; the next run uses the new one", async () => {
      h.writeDags({ "versioned.ts": versionedDag("versioned", "v1", flag) });
      await h.reparse();
      const oldRun = await h.trigger("versioned");
      await waitFor("wait to run", async () => ((await h.taskStates("versioned", oldRun)).wait === "running") || undefined);

      h.writeDags({ "versioned.ts": versionedDag("versioned", "v2", flag) });
      const deployed = await h.reparse();
      assert.deepEqual(deployed.changed, ["versioned"]);
      fs.writeFileSync(flag, "");

      const finished = await h.waitForRun("versioned", oldRun);
      assert.equal(finished.state, "success");
      assert.equal(await h.xcom("versioned", oldRun, "which"), "v1", "the run started on version 1 runs version 1's code");

      const newRun = await h.trigger("versioned");
      assert.equal((await h.waitForRun("versioned", newRun)).state, "success");
      assert.equal(await h.xcom("versioned", newRun, "which"), "v2");
      const versions = await listDagVersions(h.store, "versioned");
      assert.deepEqual(
        versions.map((v) => [v.version_number, v.runs]),
        [
          [2, 1],
          [1, 1],
        ],
      );
    });

    test("a try runs on a node whose module files are gone: the module is fetched from the DB", async () => {
      const folder = moduleCacheFolder(h.home);
      fs.rmSync(folder, { recursive: true, force: true });
      const runId = await h.trigger("keep");
      const { state } = await h.waitForRun("keep", runId);
      assert.equal(state, "success");
      assert.equal(await h.xcom("keep", runId, "t"), "k2");
      const current = await h.store.db
        .selectFrom("dag as d")
        .innerJoin("dag_version as v", "v.id", "d.dag_version_id")
        .select("v.module_hash")
        .where("d.dag_id", "=", "keep")
        .executeTakeFirstOrThrow();
      assert.ok(fs.existsSync(path.join(folder, `${current.module_hash}.mjs`)), "the fetched module is cached on disk");
    });

    test("prune deletes only versions no run needs, and the modules only they used", async () => {
      h.writeDags({ "pinned.ts": versionedDag("pinned", "p1", pinFlag) });
      await h.reparse();
      const pinnedRun = await h.trigger("pinned");
      await waitFor("pinned to run", async () => ((await h.taskStates("pinned", pinnedRun)).wait === "running") || undefined);
      h.writeDags({ "pinned.ts": versionedDag("pinned", "p2", pinFlag) });
      await h.reparse();

      const versionRows = await h.store.db.selectFrom("dag_version").select(["id", "dag_id", "version_number", "module_hash"]).execute();
      const version = (dagId: string, n: number) => versionRows.find((v) => v.dag_id === dagId && v.version_number === n)!;
      const prunable = [version("keep", 1), version("versioned", 1)];

      const dry = await pruneDagVersions(h.store, { dryRun: true });
      assert.deepEqual(
        dry.versions.map((v) => `${v.dag_id}:${v.version_number}`).sort(),
        ["keep:1", "versioned:1"],
        "the current versions and the version of the running run are needed",
      );
      assert.equal((await h.store.db.selectFrom("dag_version").select("id").execute()).length, versionRows.length, "a dry run deletes nothing");

      const pruned = await pruneDagVersions(h.store);
      assert.deepEqual(pruned.versions.map((v) => `${v.dag_id}:${v.version_number}`).sort(), ["keep:1", "versioned:1"]);
      assert.deepEqual(pruned.modules.map((m) => m.hash).sort(), prunable.map((v) => v.module_hash).sort());
      const modules = new Set((await h.store.db.selectFrom("bundle_module").select("hash").execute()).map((m) => m.hash));
      for (const v of prunable) assert.ok(!modules.has(v.module_hash));
      assert.ok(modules.has(version("pinned", 1).module_hash), "the running run's module stays");
      assert.deepEqual(
        (await listDagVersions(h.store, "versioned")).map((v) => v.version_number),
        [2],
      );

      fs.writeFileSync(pinFlag, "");
      assert.equal((await h.waitForRun("pinned", pinnedRun)).state, "success");
      assert.equal(await h.xcom("pinned", pinnedRun, "which"), "p1");
      const later = await pruneDagVersions(h.store);
      assert.deepEqual(later.versions.map((v) => `${v.dag_id}:${v.version_number}`), ["pinned:1"], "once its run finished, the old version goes");
    });
  });
}

describe("aloft deploy, dags versions and prune-versions (CLI)", () => {
  const home = tempDir("deploy-home");
  const env = { ALOFT_HOME: home, ALOFT_DATABASE_URL: `sqlite://${path.join(home, "aloft.db")}` };
  const dags = writeDags({ "a.ts": plainDag("a", "a1"), "b.ts": plainDag("b", "b1") });
  before(async () => assert.equal((await runCli(["db", "migrate"], env)).code, 0));
  after(() => {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(dags, { recursive: true, force: true });
  });

  test("deploy prints what changed, fails with code 1 on an import error and still deploys the rest", async () => {
    const first = await runCli(["deploy", dags, "--message", "first", "--json"], env);
    assert.equal(first.code, 0, first.stderr);
    const out = JSON.parse(first.stdout) as { new_version: boolean; added: string[]; bundle_hash: string };
    assert.equal(out.new_version, true);
    assert.deepEqual(out.added.sort(), ["a", "b"]);
    assert.match(out.bundle_hash, /^[0-9a-f]{64}$/);

    const same = await runCli(["deploy", dags], env);
    assert.equal(same.code, 0);
    assert.match(same.stdout, /no change: bundle 1 .* is current; no new version/);

    fs.writeFileSync(path.join(dags, "a.ts"), plainDag("a", "a2"));
    fs.writeFileSync(path.join(dags, "bad.ts"), "export const x = ;");
    const broken = await runCli(["deploy", dags], env);
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /changed: a/);
    assert.match(broken.stdout, /bad\.ts: cannot compile/);
    assert.match(broken.stdout, /the other DAGs were deployed/);

    const versions = await runCli(["dags", "versions", "a", "--json"], env);
    const rows = JSON.parse(versions.stdout) as Array<{ version: number; current: boolean; message: string | null }>;
    assert.deepEqual(
      rows.map((r) => [r.version, r.current, r.message]),
      [
        [2, true, null],
        [1, false, "first"],
      ],
    );
    const table = await runCli(["dags", "versions", "a"], env);
    assert.match(table.stdout, /^version\s+current/);

    const dry = await runCli(["dags", "prune-versions", "--dry-run"], env);
    assert.match(dry.stdout, /would delete 1 DAG version\(s\)/);
    assert.match(dry.stdout, /a version 1/);
    const pruned = JSON.parse((await runCli(["dags", "prune-versions", "--json"], env)).stdout) as { versions: Array<{ dag_id: string }> };
    assert.deepEqual(pruned.versions.map((v) => v.dag_id), ["a"]);
    assert.equal(JSON.parse((await runCli(["dags", "versions", "a", "--json"], env)).stdout).length, 1);
  });
});

describe("standalone --dags deploys again when a file changes", () => {
  const dags = writeDags({ "dev.ts": plainDag("dev", "before") });
  const home = tempDir("dev-db");
  // A poll far away: the edit must be picked up by the file watch.
  const aloft = new Standalone(`sqlite://${path.join(home, "aloft.db")}`, dags, { ALOFT_PARSE_INTERVAL_MS: "3600000" });
  before(() => aloft.start());
  after(async () => {
    await aloft.stop();
    aloft.cleanup();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(dags, { recursive: true, force: true });
  });

  test("an edited DAG file becomes a new version without a restart", async () => {
    const before = await aloft.trigger("dev");
    assert.equal((await aloft.waitForRun("dev", before)).state, "success");
    fs.writeFileSync(path.join(dags, "dev.ts"), plainDag("dev", "after").replace('task("t"', 'task("t2"'));
    await waitFor(
      "the edit to be deployed",
      async () => ((await aloft.cliJson<unknown[]>(["dags", "versions", "dev"])).length === 2 ? true : undefined),
      30_000,
    );
    const runId = await aloft.trigger("dev", ["--run-id", "after_edit"]);
    const { state, tasks } = await aloft.waitForRun("dev", runId);
    assert.equal(state, "success");
    assert.deepEqual(tasks, { t2: "success" });
  });
});
