/**
 * The API's own OpenAPI document, and the rule it states for every operation: without credentials a
 * 401, below the operation's role a 403, whatever the endpoint.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ROLES, roleAllows, type Access } from "../../src/api/auth/roles.js";
import type { ApiRole } from "../../src/store/schema.js";
import { ApiUnderTest } from "../helpers/api.js";
import { testDialects } from "../helpers/dialects.js";
import { Harness } from "../helpers/harness.js";

type Method = "GET" | "POST" | "PATCH" | "DELETE" | "PUT";
interface Operation {
  "x-aloft-role": Access;
  responses: Record<string, unknown>;
}

/** Every `$ref` in `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") out.push(value);
      else refs(value, out);
    }
  }
  return out;
}

// One dialect is enough: the document and the access rules do not depend on the database.
const factory = testDialects()[0]!;

describe("the OpenAPI document", () => {
  const harness = new Harness(factory, {});
  const api = new ApiUnderTest(harness);
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
  before(async () => {
    await harness.start();
    await api.start();
    const response = await api.call("GET", "/openapi.json", { as: null });
    assert.equal(response.statusCode, 200);
    doc = response.json();
  });
  after(async () => {
    await api.stop();
    await harness.stop();
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase() as Method, op })));

  test("describes the endpoints with Airflow's response schemas, every reference resolving", () => {
    assert.equal(doc.openapi, "3.1.0");
    for (const path of ["/api/v2/dags", "/api/v2/dags/{dag_id}", "/api/v2/monitor/health", "/auth/token", "/api/v2/users"]) assert.ok(doc.paths[path], `${path} is not documented`);
    const dagList = doc.paths["/api/v2/dags"]!.get!;
    assert.deepEqual(refs(dagList.responses["200"]), ["#/components/schemas/DAGCollectionResponse"]);
    const missing = refs(doc).filter((r) => !(r.replace("#/components/schemas/", "") in doc.components.schemas));
    assert.deepEqual([...new Set(missing)], []);
  });

  test("every operation states its least role, and enforces it: 401 without credentials, 403 below it", async () => {
    const checked: string[] = [];
    for (const { path, method, op } of operations()) {
      const role = op["x-aloft-role"];
      assert.ok(role === "public" || ROLES.includes(role as ApiRole), `${method} ${path} states no role`);
      if (role === "public") continue;
      const url = path.replace(/\{[^}]+\}/g, "x");
      const anonymous = await api.call(method, url, { as: null, body: method === "GET" || method === "DELETE" ? undefined : {} });
      assert.equal(anonymous.statusCode, 401, `${method} ${path} without credentials answered ${anonymous.statusCode}`);
      for (const user of ROLES.filter((r) => !roleAllows(r, role as ApiRole))) {
        const below = await api.call(method, url, { as: user, body: method === "GET" || method === "DELETE" ? undefined : {} });
        assert.equal(below.statusCode, 403, `${method} ${path} as ${user} (needs ${role}) answered ${below.statusCode}`);
      }
      checked.push(`${method} ${path}`);
    }
    assert.ok(checked.length >= 20, `only ${checked.length} operations checked`);
  });
});
