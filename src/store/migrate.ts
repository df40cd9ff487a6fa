/** Versioned schema migrations, applied by `aloft db migrate` and at standalone start. */
import type { Migration, MigrationResultSet } from "kysely";
import { Migrator } from "./kysely.js";
import { DatabaseError } from "../errors.js";
import type { Store } from "./db.js";
import * as initial from "./migrations/0001_initial.js";
import * as timetablesBackfillAssets from "./migrations/0002_timetables_backfill_assets.js";
import * as runtimeData from "./migrations/0003_runtime_data.js";
import * as operations from "./migrations/0004_operations.js";
import * as structure from "./migrations/0005_structure.js";
import * as bundles from "./migrations/0006_bundles.js";
import * as workers from "./migrations/0007_workers.js";
import * as taskLogs from "./migrations/0008_task_logs.js";
import * as ha from "./migrations/0009_ha.js";
import * as apiUsers from "./migrations/0010_api_users.js";

interface DialectMigration {
  up(db: Parameters<Migration["up"]>[0], store: Store): Promise<void>;
}

/** In order; never edit one that has shipped, add a new one. */
const MIGRATIONS: Record<string, DialectMigration> = {
  "0001_initial": initial,
  "0002_timetables_backfill_assets": timetablesBackfillAssets,
  "0003_runtime_data": runtimeData,
  "0004_operations": operations,
  "0005_structure": structure,
  "0006_bundles": bundles,
  "0007_workers": workers,
  "0008_task_logs": taskLogs,
  "0009_ha": ha,
  "0010_api_users": apiUsers,
};

export interface MigrationReport {
  applied: string[];
  current: string | null;
}

export async function migrate(store: Store): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: store.db,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(
          Object.entries(MIGRATIONS).map(([name, m]): [string, Migration] => [name, { up: (db) => m.up(db, store) }]),
        ),
    },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    throw new DatabaseError(`migration ${failed} failed: ${reason}`);
  }
  const applied = (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  const names = Object.keys(MIGRATIONS);
  return { applied, current: names[names.length - 1] ?? null };
}

/** Whether the schema is at the latest migration (commands other than migrate require it). */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => Object.fromEntries(Object.keys(MIGRATIONS).map((n) => [n, { up: async () => {} }])) },
  });
  const info = await migrator.getMigrations();
  return info.filter((m) => !m.executedAt).map((m) => m.name);
}
