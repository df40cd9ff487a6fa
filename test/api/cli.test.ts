/** `aloft users …` and `aloft api` from the command line, on an SQLite file. */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { before, describe, test } from "node:test";
import { BIN, freePort, runCli, tempDir, waitFor } from "../helpers/aloft.js";

describe("users and api commands", () => {
  const home = tempDir("api-cli-home");
  const env = { ALOFT_HOME: home, ALOFT_DATABASE_URL: `sqlite://${path.join(home, "aloft.db")}` };
  before(async () => {
    assert.equal((await runCli(["db", "migrate"], env)).code, 0);
  });

  test("users create, list and change; mistakes exit 2 with a message naming them", async () => {
    const created = await runCli(["users", "create", "--username", "ops1", "--role", "op", "--password", "long enough pw"], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created user ops1 with role op/);
    const fromStdin = spawnSync(process.execPath, [BIN, "users", "create", "--username", "ops2", "--role", "viewer", "--password-stdin"], {
      env: { ...process.env, ...env },
      input: "from stdin pw\n",
      encoding: "utf8",
    });
    assert.equal(fromStdin.status, 0, fromStdin.stderr);
    const list = JSON.parse((await runCli(["users", "list", "--json"], env)).stdout) as Array<{ username: string; role: string; active: boolean }>;
    assert.deepEqual(list.map((u) => [u.username, u.role, u.active]), [["ops1", "op", true], ["ops2", "viewer", true]]);
    assert.ok(!JSON.stringify(list).includes("scrypt"));

    const twice = await runCli(["users", "create", "--username", "ops1", "--role", "op", "--password", "long enough pw"], env);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /user 'ops1' exists already/);
    const badRole = await runCli(["users", "create", "--username", "x", "--role", "root", "--password", "long enough pw"], env);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /role 'root' is not one of viewer, user, op, admin/);
    const changed = await runCli(["users", "change", "ops2", "--role", "user", "--deactivate"], env);
    assert.equal(changed.code, 0, changed.stderr);
    const nobody = await runCli(["users", "change", "nobody", "--role", "user"], env);
    assert.equal(nobody.code, 2);
    assert.match(nobody.stderr, /user 'nobody' does not exist/);
  });

  test("aloft api serves the API on its port; the user created from the CLI logs in", async () => {
    await runCli(["users", "create", "--username", "reader", "--role", "viewer", "--password", "reader password"], env);
    const port = await freePort();
    const api = spawn(process.execPath, [BIN, "api", "--port", String(port)], { env: { ...process.env, ...env, ALOFT_LOG_LEVEL: "info" }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    api.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor("the API to listen", async () => (stderr.includes("Aloft API is running") ? true : undefined), 30_000).catch((error: Error) => {
        throw new Error(`${error.message}; its stderr: ${stderr}`);
      });
      const base = `http://127.0.0.1:${port}`;
      const login = await fetch(`${base}/auth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "reader", password: "reader password" }) });
      assert.equal(login.status, 201);
      const token = ((await login.json()) as { access_token: string }).access_token;
      const dags = await fetch(`${base}/api/v2/dags`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(dags.status, 200);
      assert.deepEqual(await dags.json(), { dags: [], total_entries: 0 });
      assert.ok(!stderr.includes("reader password"), "the password was logged");
      // Each request is logged (asynchronously): method, path, status, time, user.
      await waitFor("the request in the log", async () => (/"path":"\/api\/v2\/dags","status":200,.*"user":"reader"/.test(stderr) ? true : undefined), 10_000);
    } finally {
      api.kill("SIGTERM");
      await new Promise((resolve) => api.once("exit", resolve));
    }
  });

});

describe("aloft api on a database that is not set up", () => {
  test("exits 2 and says to run the migrations", async () => {
    const home = tempDir("api-cli-empty");
    const result = await runCli(["api", "--port", "0"], { ALOFT_HOME: home, ALOFT_DATABASE_URL: `sqlite://${path.join(home, "aloft.db")}` });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /aloft db migrate/);
  });
});
