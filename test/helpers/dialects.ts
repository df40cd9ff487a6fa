/**
 * The dialects a suite runs on: SQLite always, PostgreSQL and MySQL/MariaDB when their test URL is
 * set. Each suite gets a database of its own, created fresh and dropped at the end.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "../../src/store/kysely.js";
import { after, before } from "node:test";
import { openStore, type Store } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrate.js";

export interface TestDatabase {
  dialect: "sqlite" | "postgres" | "mysql";
  url: string;
  drop(): Promise<void>;
}

export type DialectFactory = { dialect: TestDatabase["dialect"]; create(): Promise<TestDatabase> };

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export function testDialects(): DialectFactory[] {
  const out: DialectFactory[] = [
    {
      dialect: "sqlite",
      async create() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aloft-test-db-"));
        return { dialect: "sqlite", url: `sqlite://${path.join(dir, "aloft.db")}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  for (const [dialect, env] of [
    ["postgres", "ALOFT_TEST_POSTGRES_URL"],
    ["mysql", "ALOFT_TEST_MYSQL_URL"],
  ] as const) {
    const base = process.env[env];
    if (!base) continue;
    out.push({
      dialect,
      async create() {
        const name = `aloft_test_${crypto.randomBytes(5).toString("hex")}`;
        const admin = await openStore(base, { poolSize: 1 });
        await sql`create database ${sql.id(name)}`.execute(admin.db);
        await admin.close();
        return {
          dialect,
          url: withDatabase(base, name),
          async drop() {
            const a = await openStore(base, { poolSize: 1 });
            if (dialect === "postgres") await sql`drop database if exists ${sql.id(name)} with (force)`.execute(a.db);
            else await sql`drop database if exists ${sql.id(name)}`.execute(a.db);
            await a.close();
          },
        };
      },
    });
  }
  return out;
}

/**
 * A fresh, migrated database of one dialect for the enclosing `describe`: created before its tests,
 * dropped after them. Read `.store` inside tests and hooks.
 */
export function useMigratedDatabase(factory: DialectFactory): { readonly store: Store } {
  let database: TestDatabase | undefined;
  let store: Store | undefined;
  before(async () => {
    database = await factory.create();
    store = await openStore(database.url);
    await migrate(store);
  });
  after(async () => {
    await store?.close();
    await database?.drop();
  });
  return {
    get store(): Store {
      if (!store) throw new Error("the database is created in a before() hook: read .store inside tests");
      return store;
    },
  };
}
