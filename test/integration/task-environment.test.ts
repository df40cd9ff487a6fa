/**
 * Task environments through the engine: a cluster's client tools reached through the deployment's
 * PATH and preamble, a queue's override, a task's own path/env/preamble, function tasks seeing the
 * environment and a preamble's exports, and a failing preamble named in the try's error.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Harness } from "../helpers/harness.js";
import { tempDir } from "../helpers/aloft.js";
import { testDialects } from "../helpers/dialects.js";

/** A folder with executable scripts: name → body. */
function binDir(prefix: string, scripts: Record<string, string>): string {
  const dir = tempDir(prefix);
  for (const [name, body] of Object.entries(scripts)) fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
  return dir;
}

const hadoopBin = binDir("hadoop-bin", { hdfs: 'echo "fake hdfs $* (conf $HADOOP_CONF_DIR)"' });
const sparkBin = binDir("spark-bin", { "spark-submit": 'echo "fake spark-submit from spark 3.5"' });
const taskBin = binDir("task-bin", { tool: 'echo "task tool"' });
const confDir = tempDir("hadoop-conf");
fs.writeFileSync(path.join(confDir, "hadoop-env.sh"), `export HADOOP_CONF_DIR=${confDir}\n`);

const DAGS = {
  "envs.ts": `import { bash, dag, task } from "aloft";
    dag("tools", {}, () => {
      bash("hdfs_ls", "hdfs dfs -ls /data; echo JAVA_HOME=$JAVA_HOME");
      bash("on_spark", "spark-submit --version; echo MODE=$MODE SPARK_HOME=$SPARK_HOME; echo PATH=$PATH", { queue: "spark" });
      bash("own", "tool; echo MODE=$MODE MINE=$MINE; echo PATH=$PATH", {
        queue: "spark",
        env: { MODE: "task" },
        path: [${JSON.stringify(taskBin)}],
        preamble: "export MINE=from-the-task-preamble",
      });
    });
    dag("functions", { maxActiveTasks: 1 }, () => {
      const inside = task("inside", () => ({
        javaHome: process.env.JAVA_HOME,
        hadoopConf: process.env.HADOOP_CONF_DIR,
        mode: process.env.MODE,
        mine: process.env.MINE,
        sparkHome: process.env.SPARK_HOME ?? null,
        path: process.env.PATH,
      }), { queue: "spark", preamble: "export MINE=exported-for-the-function; unset SPARK_HOME" });
      const afterwards = task("afterwards", () => ({ mine: process.env.MINE ?? null, mode: process.env.MODE ?? null, sparkHome: process.env.SPARK_HOME ?? null }));
      inside.then(afterwards);
    });
    dag("broken", {}, () => {
      bash("bash_queue", "echo the command ran", { queue: "broken" });
      bash("bash_task", "echo the command ran", { preamble: "echo preparing; exit 3" });
      task("fn_task", () => "ran", { preamble: "false" });
    });`,
};

describe("task environments", () => {
  const h = new Harness(testDialects()[0]!, DAGS, {
    warmRunners: 1,
    taskEnvironment: {
      env: { JAVA_HOME: "/usr/lib/jvm/java-17", MODE: "deployment", API_TOKEN: "tok-s3cr3t" },
      path: [hadoopBin],
      preamble: `source ${path.join(confDir, "hadoop-env.sh")}`,
      queues: {
        spark: { env: { MODE: "spark queue", SPARK_HOME: "/opt/spark-3.5" }, path: [sparkBin], preamble: "" },
        broken: { env: {}, path: [], preamble: "echo about to fail >&2\n(exit 7)" },
      },
    },
  });
  before(() => h.start());
  after(() => {
    for (const dir of [hadoopBin, sparkBin, taskBin, confDir]) fs.rmSync(dir, { recursive: true, force: true });
    return h.stop();
  });

  test("bash tasks: the deployment's tools and preamble, a queue's override, a task's own path, env and preamble", async () => {
    const runId = await h.trigger("tools");
    const { state, tasks } = await h.waitForRun("tools", runId);
    assert.equal(state, "success", JSON.stringify(tasks));

    const hdfs = (await h.log("tools", runId, "hdfs_ls"))!;
    assert.match(hdfs, new RegExp(`fake hdfs dfs -ls /data \\(conf ${confDir}\\)\\nJAVA_HOME=/usr/lib/jvm/java-17\\n`));
    // Variable names are logged, never their values.
    assert.match(hdfs, /task environment \(variable names only\): deployment: env JAVA_HOME, MODE, API_TOKEN; path [^;]+; preamble/);
    assert.doesNotMatch(hdfs, /tok-s3cr3t/);

    const spark = (await h.log("tools", runId, "on_spark"))!;
    assert.match(spark, /fake spark-submit from spark 3\.5\nMODE=spark queue SPARK_HOME=\/opt\/spark-3\.5\n/);
    assert.match(spark, new RegExp(`PATH=${sparkBin}:${hadoopBin}:`));

    const own = (await h.log("tools", runId, "own"))!;
    assert.match(own, /task tool\nMODE=task MINE=from-the-task-preamble\n/);
    assert.match(own, new RegExp(`PATH=${taskBin}:${sparkBin}:${hadoopBin}:`));
  });

  test("function tasks: the environment and a preamble's exports for the try, put back after it", async () => {
    const runId = await h.trigger("functions");
    const { state, tasks } = await h.waitForRun("functions", runId);
    assert.equal(state, "success", JSON.stringify(tasks));
    const value = async (taskId: string) => {
      const row = await h.store.db.selectFrom("xcom").select("value").where("run_id", "=", runId).where("task_id", "=", taskId).executeTakeFirstOrThrow();
      return JSON.parse(row.value) as Record<string, string | null>;
    };
    const inside = await value("inside");
    assert.equal(inside.javaHome, "/usr/lib/jvm/java-17");
    assert.equal(inside.hadoopConf, confDir);
    assert.equal(inside.mode, "spark queue");
    assert.equal(inside.mine, "exported-for-the-function");
    assert.equal(inside.sparkHome, null, "the preamble unset it");
    assert.ok(inside.path!.startsWith(`${sparkBin}:${hadoopBin}:`), inside.path!);
    // The next try in the runner (there is one warm runner) on the default queue sees none of it.
    assert.deepEqual(await value("afterwards"), { mine: null, mode: "deployment", sparkHome: null });
  });

  test("a failing preamble fails the try, naming the preamble and its exit code; the task does not run", async () => {
    const runId = await h.trigger("broken");
    const { tasks } = await h.waitForRun("broken", runId);
    assert.deepEqual(tasks, { bash_queue: "failed", bash_task: "failed", fn_task: "failed" });
    const queue = (await h.log("broken", runId, "bash_queue"))!;
    assert.match(queue, /about to fail\n/);
    assert.match(queue, /try ended: failed: the queue 'broken' preamble failed with exit code 7\n/);
    assert.doesNotMatch(queue, /^the command ran$/m);
    const bashTask = (await h.log("broken", runId, "bash_task"))!;
    assert.match(bashTask, /preparing\n/);
    assert.match(bashTask, /try ended: failed: the task preamble failed with exit code 3\n/);
    assert.doesNotMatch(bashTask, /^the command ran$/m);
    assert.match((await h.log("broken", runId, "fn_task"))!, /try ended: failed: the task preamble failed with exit code 1\n/);
  });
});
