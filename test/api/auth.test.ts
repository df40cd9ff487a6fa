/** Logging in, roles, CSRF, rate limiting and bad input at the API's door, on every dialect. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import Fastify from "fastify";
import { installAuth } from "../../src/api/auth/plugin.js";
import { TokenSigner } from "../../src/api/auth/tokens.js";
import { MAX_FAILURES_PER_USER } from "../../src/api/auth/login-limit.js";
import { createUser } from "../../src/api/auth/users.js";
import { assertMatchesSpec } from "../helpers/airflow-spec.js";
import { PASSWORD, useApi } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";

const DAGS = {
  "auth_dag.ts": `import { dag, task } from "aloft";
dag("auth_dag", { schedule: null }, () => { task("t", () => 1); });
`,
};

for (const factory of testDialects()) {
  describe(`API authentication on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    const paused = async () => (await harness.store.db.selectFrom("dag").select("is_paused").where("dag_id", "=", "auth_dag").executeTakeFirstOrThrow()).is_paused;

    test("health and version answer without credentials, in Airflow's shapes", async () => {
      const health = await api.call("GET", "/api/v2/monitor/health", { as: null });
      assert.equal(health.statusCode, 200);
      assertMatchesSpec("GET", "/api/v2/monitor/health", 200, health.json());
      assert.equal(health.json().metadatabase.status, "healthy");
      const version = await api.call("GET", "/api/v2/version", { as: null });
      assertMatchesSpec("GET", "/api/v2/version", 200, version.json());
    });

    test("no credentials: 401 with a problem body and WWW-Authenticate; a bad token: 401", async () => {
      const none = await api.call("GET", "/api/v2/dags", { as: null });
      assert.equal(none.statusCode, 401);
      assert.match(String(none.headers["content-type"]), /application\/problem\+json/);
      assert.match(String(none.headers["www-authenticate"]), /^Bearer/);
      const body = none.json();
      assert.equal(body.status, 401);
      assert.match(body.detail, /Authorization: Bearer/);
      const forged = await api.call("GET", "/api/v2/dags", { as: null, headers: { authorization: "Bearer eyJzdWIiOiJhZG1pbiJ9.AAAA" } });
      assert.equal(forged.statusCode, 401);
      assert.match(forged.json().detail, /not valid/);
    });

    test("each role may do what its rank allows: a viewer cannot pause a DAG (403 naming the role needed), a user can", async () => {
      const denied = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "viewer", body: { is_paused: true } });
      assert.equal(denied.statusCode, 403);
      assert.match(denied.json().detail, /role 'viewer'.*needs role 'user'/);
      assert.equal(await paused(), 0, "the refused request changed the DAG");
      const allowed = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "user", body: { is_paused: true } });
      assert.equal(allowed.statusCode, 200, allowed.body);
      assert.equal(await paused(), 1);
      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner", "dag_id"]).where("dag_id", "=", "auth_dag").execute();
      assert.deepEqual(events.at(-1), { event: "paused", owner: "user", dag_id: "auth_dag" });
      await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "op", body: { is_paused: false } });
    });

    test("a UI session: the cookie is HttpOnly; a change needs the CSRF token as well", async () => {
      const login = await api.call("POST", "/auth/login", { as: null, body: { username: "user", password: PASSWORD } });
      assert.equal(login.statusCode, 200, login.body);
      const session = login.cookies.find((c) => c.name === "aloft_session")!;
      const csrfCookie = login.cookies.find((c) => c.name === "aloft_csrf")!;
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, "Strict");
      assert.notEqual(csrfCookie.httpOnly, true);
      assert.equal(login.json().csrf_token, csrfCookie.value);
      const cookies = { aloft_session: session.value };
      const me = await api.call("GET", "/auth/me", { as: null, cookies });
      assert.deepEqual(me.json(), { username: "user", role: "user" });
      const noCsrf = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: null, cookies, body: { is_paused: true } });
      assert.equal(noCsrf.statusCode, 403);
      assert.match(noCsrf.json().detail, /CSRF/);
      assert.equal(await paused(), 0);
      const wrongCsrf = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: null, cookies, headers: { "x-csrf-token": "x" }, body: { is_paused: true } });
      assert.equal(wrongCsrf.statusCode, 403);
      const withCsrf = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: null, cookies, headers: { "x-csrf-token": csrfCookie.value }, body: { is_paused: true } });
      assert.equal(withCsrf.statusCode, 200, withCsrf.body);
      assert.equal(await paused(), 1);
      await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "user", body: { is_paused: false } });
    });

    test(`after ${MAX_FAILURES_PER_USER} wrong passwords the account is locked for a while (429 with Retry-After), even with the right one`, async () => {
      await createUser(harness.store, "target", PASSWORD, "viewer");
      for (let i = 0; i < MAX_FAILURES_PER_USER; i++) {
        const wrong = await api.call("POST", "/auth/token", { as: null, body: { username: "target", password: "wrong password" } });
        assert.equal(wrong.statusCode, 401);
      }
      const locked = await api.call("POST", "/auth/token", { as: null, body: { username: "target", password: PASSWORD } });
      assert.equal(locked.statusCode, 429);
      assert.ok(Number(locked.headers["retry-after"]) > 0);
      assert.match(locked.json().detail, /too many failed logins for 'target'/);
      // Other users are not locked out by it.
      const other = await api.call("POST", "/auth/token", { as: null, body: { username: "viewer", password: PASSWORD } });
      assert.equal(other.statusCode, 201);
      assertMatchesSpec("GET", "/api/v2/version", 200, (await api.call("GET", "/api/v2/version", { as: null })).json());
    });

    test("bad input is a 4xx problem naming what is wrong, and changes nothing", async () => {
      const unknownField = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "admin", body: { is_paused: true, owner: "x" } });
      assert.equal(unknownField.statusCode, 422);
      assert.deepEqual(unknownField.json().detail[0].loc, ["body", "owner"]);
      assertMatchesSpec("PATCH", "/api/v2/dags/{dag_id}", 422, unknownField.json());
      const wrongType = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "admin", body: { is_paused: "yes" } });
      assert.equal(wrongType.statusCode, 422);
      assert.deepEqual(wrongType.json().detail[0].loc, ["body", "is_paused"]);
      const malformed = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "admin", headers: { "content-type": "application/json" }, body: '{"is_paused": tru' });
      assert.equal(malformed.statusCode, 400);
      assert.match(malformed.json().detail, /JSON/);
      const huge = await api.call("PATCH", "/api/v2/dags/auth_dag", { as: "admin", body: { is_paused: true, pad: "x".repeat(2 * 1024 * 1024) } });
      assert.equal(huge.statusCode, 413);
      const missing = await api.call("PATCH", "/api/v2/dags/..%2F..%2Fetc%2Fpasswd", { as: "admin", body: { is_paused: true } });
      assert.equal(missing.statusCode, 404);
      assertMatchesSpec("PATCH", "/api/v2/dags/{dag_id}", 404, missing.json());
      const noSuchEndpoint = await api.call("GET", "/api/v2/nothing-here", { as: "admin" });
      assert.equal(noSuchEndpoint.statusCode, 404);
      assert.equal(await paused(), 0, "a refused request changed the DAG");
    });
  });
}

describe("API routes", () => {
  test("a route that does not declare who may call it cannot be registered", async () => {
    const app = Fastify();
    installAuth(app, undefined as never, new TokenSigner("k"));
    assert.throws(() => app.get("/api/v2/open", async () => "oops"), /declares no access/);
    await app.close();
  });
});

for (const factory of testDialects()) {
  describe(`API users on ${factory.dialect}`, () => {
    const { harness, api } = useApi(factory, DAGS);

    const tokenOf = async (username: string, password: string) => {
      const response = await api.call("POST", "/auth/token", { as: null, body: { username, password } });
      return response.statusCode === 201 ? response.json<{ access_token: string }>().access_token : null;
    };
    const me = (token: string) => api.call("GET", "/auth/me", { as: null, headers: { authorization: `Bearer ${token}` } });

    test("only an admin manages users; a password is never returned", async () => {
      assert.equal((await api.call("GET", "/api/v2/users", { as: "op" })).statusCode, 403);
      const created = await api.call("POST", "/api/v2/users", { as: "admin", body: { username: "dana", password: PASSWORD, role: "viewer" } });
      assert.equal(created.statusCode, 201, created.body);
      assert.deepEqual(created.json(), { username: "dana", role: "viewer", active: true });
      const again = await api.call("POST", "/api/v2/users", { as: "admin", body: { username: "dana", password: PASSWORD, role: "viewer" } });
      assert.equal(again.statusCode, 409);
      const list = await api.call("GET", "/api/v2/users", { as: "admin" });
      assert.ok(list.json().users.some((u: { username: string }) => u.username === "dana"));
      assert.ok(!list.body.includes("password") && !list.body.includes("scrypt"), "a password or its hash was returned");
      const short = await api.call("POST", "/api/v2/users", { as: "admin", body: { username: "eve", password: "short", role: "viewer" } });
      assert.equal(short.statusCode, 400);
      assert.match(short.json().detail, /too short/);
      const badRole = await api.call("POST", "/api/v2/users", { as: "admin", body: { username: "eve", password: PASSWORD, role: "root" } });
      assert.equal(badRole.statusCode, 422);
      const events = await harness.store.db.selectFrom("event_log").select(["event", "owner"]).where("event", "=", "user.create").execute();
      assert.ok(events.some((e) => e.owner === "admin"));
    });

    test("changing a user's password or role ends their tokens; a deactivated user cannot log in", async () => {
      await api.call("POST", "/api/v2/users", { as: "admin", body: { username: "frank", password: PASSWORD, role: "user" } });
      const before = (await tokenOf("frank", PASSWORD))!;
      assert.equal((await me(before)).statusCode, 200);
      const changed = await api.call("PATCH", "/api/v2/users/frank", { as: "admin", body: { role: "viewer" } });
      assert.deepEqual(changed.json(), { username: "frank", role: "viewer", active: true });
      assert.equal((await me(before)).statusCode, 401, "a token issued before the change still works");
      const after = (await tokenOf("frank", PASSWORD))!;
      assert.deepEqual((await me(after)).json(), { username: "frank", role: "viewer" });
      await api.call("PATCH", "/api/v2/users/frank", { as: "admin", body: { password: "a new password" } });
      assert.equal((await me(after)).statusCode, 401);
      assert.equal(await tokenOf("frank", PASSWORD), null);
      const third = (await tokenOf("frank", "a new password"))!;
      await api.call("PATCH", "/api/v2/users/frank", { as: "admin", body: { active: false } });
      assert.equal((await me(third)).statusCode, 401);
      assert.equal(await tokenOf("frank", "a new password"), null);
      assert.equal((await api.call("PATCH", "/api/v2/users/nobody", { as: "admin", body: { active: false } })).statusCode, 404);
      assert.equal((await api.call("PATCH", "/api/v2/users/frank", { as: "admin", body: {} })).statusCode, 422);
    });
  });
}
