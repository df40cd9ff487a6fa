/** Task environment: resolving deployment, queue and task scopes, and reading [task_environment] from the config file. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { loadConfig, describeConfig } from "../../src/config.js";
import { parseTaskEnvironmentConfig } from "../../src/executor/task-environment-config.js";
import { nodeEnvironmentLayers, resolveTaskEnvironment, describeEnvironmentLayers, type NodeTaskEnvironment } from "../../src/executor/task-environment.js";
import { UsageError } from "../../src/errors.js";
import { tempDir } from "../helpers/aloft.js";

const NODE: NodeTaskEnvironment = {
  env: { JAVA_HOME: "/jvm/17", MODE: "deployment" },
  path: ["/opt/hadoop/bin", "/opt/spark/bin"],
  preamble: "source /etc/hadoop/conf/hadoop-env.sh",
  queues: { spark: { env: { MODE: "queue", SPARK_HOME: "/opt/spark-3.5" }, path: ["/opt/spark-3.5/bin"], preamble: "echo queue" } },
};

describe("resolveTaskEnvironment", () => {
  test("variables: task over queue over deployment; PATH: task, queue, deployment, then the node's; preambles in scope order", () => {
    const layers = [...nodeEnvironmentLayers(NODE, "spark"), { scope: "task", env: { MODE: "task" }, path: ["/task/bin"], preamble: "echo task" }];
    const resolved = resolveTaskEnvironment(layers, "/usr/bin:/bin");
    assert.deepEqual(resolved.env, {
      JAVA_HOME: "/jvm/17",
      MODE: "task",
      SPARK_HOME: "/opt/spark-3.5",
      PATH: "/task/bin:/opt/spark-3.5/bin:/opt/hadoop/bin:/opt/spark/bin:/usr/bin:/bin",
    });
    assert.deepEqual(resolved.preambles, [
      { scope: "deployment", script: "source /etc/hadoop/conf/hadoop-env.sh" },
      { scope: "queue 'spark'", script: "echo queue" },
      { scope: "task", script: "echo task" },
    ]);
  });

  test("another queue gets the deployment's scope only; no addition leaves PATH alone", () => {
    assert.deepEqual(nodeEnvironmentLayers(NODE, "default").map((l) => l.scope), ["deployment"]);
    assert.deepEqual(resolveTaskEnvironment([{ scope: "task", env: { A: "1" } }], "/bin"), { env: { A: "1" }, preambles: [] });
  });

  test("a PATH set as a variable is what the additions go before", () => {
    const resolved = resolveTaskEnvironment([{ scope: "deployment", env: { PATH: "/only/bin" }, path: ["/extra"] }], "/usr/bin");
    assert.equal(resolved.env.PATH, "/extra:/only/bin");
  });

  test("the log's account names variables, never their values", () => {
    const line = describeEnvironmentLayers([{ scope: "deployment", env: { TOKEN: "s3cr3t" }, path: ["/opt/bin"], preamble: "export X=1" }]);
    assert.equal(line, "deployment: env TOKEN; path /opt/bin; preamble");
    assert.doesNotMatch(line, /s3cr3t/);
  });
});

describe("[task_environment] in the config file", () => {
  const file = "/etc/aloft/aloft.toml";
  const problem = (raw: unknown, message: RegExp) =>
    assert.throws(() => parseTaskEnvironmentConfig(raw, file), (error: unknown) => error instanceof UsageError && message.test(error.message));

  test("reads the deployment's scope and the queues'", () => {
    assert.deepEqual(parseTaskEnvironmentConfig({ path: ["/a"], queues: { spark: { env: { X: "1" } } } }, file), {
      env: {},
      path: ["/a"],
      preamble: "",
      queues: { spark: { env: { X: "1" }, path: [], preamble: "" } },
    });
  });

  test("unknown keys and wrong types are named with the file", () => {
    problem({ pth: [] }, /\/etc\/aloft\/aloft\.toml: unknown key 'task_environment\.pth'; valid keys of \[task_environment\]: env, path, preamble, queues/);
    problem({ queues: { spark: { preambel: "" } } }, /unknown key 'task_environment\.queues\.spark\.preambel'; valid keys of \[task_environment\.queues\.spark\]: env, path, preamble/);
    problem({ env: { PORT: 8080 } }, /task_environment\.env\.PORT in \/etc\/aloft\/aloft\.toml must be a string, got 8080 \(a number\)/);
    problem({ env: { "BAD-NAME": "x" } }, /task_environment\.env\.BAD-NAME in .*not a valid environment variable name/);
    problem({ path: "/opt/bin" }, /task_environment\.path in .* must be an array of folders, got "\/opt\/bin"/);
    problem({ path: ["/a:/b"] }, /task_environment\.path\[0\] in .* must be one folder/);
    problem({ queues: { spark: { preamble: ["x"] } } }, /task_environment\.queues\.spark\.preamble in .* must be a string/);
    problem({ queues: [] }, /task_environment\.queues in .* must be a table, got an array/);
    problem("x", /task_environment in .* must be a table/);
  });

  test("loadConfig reads the section; config show lists it with variable names only", () => {
    const home = tempDir("home");
    fs.writeFileSync(
      path.join(home, "aloft.toml"),
      [
        "task_log_max_bytes = 65536",
        "[task_environment]",
        'env = { JAVA_HOME = "/jvm", API_TOKEN = "s3cr3t" }',
        'path = ["/opt/hadoop/bin"]',
        'preamble = "source /etc/hadoop/conf/hadoop-env.sh"',
        "[task_environment.queues.spark]",
        'path = ["/opt/spark/bin"]',
      ].join("\n"),
    );
    const resolved = loadConfig({ env: { ALOFT_HOME: home } });
    assert.equal(resolved.config.taskLogMaxBytes, 65536);
    assert.deepEqual(resolved.config.taskEnvironment.queues.spark!.path, ["/opt/spark/bin"]);
    const rows = Object.fromEntries(describeConfig(resolved).map((r) => [r.name, r]));
    assert.deepEqual(rows["task_environment.env"], { name: "task_environment.env", value: "JAVA_HOME, API_TOKEN (values hidden)", source: "file" });
    assert.equal(rows["task_environment.path"]!.value, "/opt/hadoop/bin");
    assert.equal(rows["task_environment.queues.spark.path"]!.value, "/opt/spark/bin");
    assert.equal(rows.task_log_max_bytes!.source, "file");
    assert.doesNotMatch(JSON.stringify(rows), /s3cr3t/);
  });

  test("without the section: defaults, and a typo in the file is still caught", () => {
    const home = tempDir("home");
    const resolved = loadConfig({ env: { ALOFT_HOME: home } });
    assert.deepEqual(resolved.config.taskEnvironment, { env: {}, path: [], preamble: "", queues: {} });
    assert.equal(resolved.config.taskLogMaxBytes, 4_194_304);
    fs.writeFileSync(path.join(home, "aloft.toml"), "[task_enviroment]\npath = []\n");
    assert.throws(() => loadConfig({ env: { ALOFT_HOME: home } }), /unknown setting 'task_enviroment'; valid settings: .*\[task_environment\]/);
  });
});
