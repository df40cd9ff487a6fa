import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";
import { createTableWithId } from "./tables.js";

/**
 * DAG bundles in the metadata DB: each deploy that changed something is a bundle; compiled modules are
 * stored once by content hash; each DAG has numbered versions (serialized DAG + the module defining
 * it), the DAG row points at its current one and each run at the one it started with. Nodes then need
 * no shared filesystem. DAGs parsed before this migration have no version until the next deploy (which
 * `aloft standalone` does at start); the scheduler leaves them alone until then. The dag row's
 * module_path (a file on the parsing machine) gives way to versions.
 */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  const id = (name: string) => createTableWithId(db, dialect, name);
  const key = "varchar(250)";
  const hash = "varchar(64)";

  await id("dag_bundle")
    .addColumn("hash", hash, (c) => c.notNull())
    .addColumn("message", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("file_count", "integer", (c) => c.notNull())
    .addColumn("bytes", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("bundle_module")
    .addColumn("hash", hash, (c) => c.primaryKey())
    .addColumn("code", dialect.longText, (c) => c.notNull())
    .addColumn("bytes", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await id("dag_version")
    .addColumn("dag_id", key, (c) => c.notNull())
    .addColumn("version_number", "integer", (c) => c.notNull())
    .addColumn("bundle_id", "bigint", (c) => c.notNull())
    .addColumn("module_hash", hash, (c) => c.notNull())
    .addColumn("fileloc", "varchar(1000)", (c) => c.notNull())
    .addColumn("dag_hash", hash, (c) => c.notNull())
    .addColumn("serialized", dialect.longText, (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("dag_version_number_uq", ["dag_id", "version_number"])
    .execute();
  await db.schema.createIndex("dag_version_bundle_idx").on("dag_version").column("bundle_id").execute();
  await db.schema.createIndex("dag_version_module_idx").on("dag_version").column("module_hash").execute();

  await db.schema.alterTable("dag").addColumn("dag_version_id", "bigint").execute();
  await db.schema.alterTable("dag").dropColumn("module_path").execute();
  await db.schema.alterTable("dag_run").addColumn("dag_version_id", "bigint").execute();
  await db.schema.createIndex("dag_run_version_idx").on("dag_run").column("dag_version_id").execute();
}
