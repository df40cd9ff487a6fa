import type { Kysely } from "kysely";
import type { DialectSupport } from "../dialects/dialect.js";
import { createTableWithId } from "./tables.js";

/**
 * The HA controller: the lease row learns who may take it next (a handover to a node of higher
 * priority), the holder's DB session (so that a crashed holder is noticed before its lease expires)
 * and a proof that the holder knows the cluster secret; a row per cluster with the secret's verifier;
 * a row per controller node; and the log of every role transition.
 */
export async function up(db: Kysely<unknown>, dialect: DialectSupport): Promise<void> {
  const key = "varchar(250)";
  await db.schema.alterTable("scheduler_lease").addColumn("holder_session", "varchar(64)").execute();
  await db.schema.alterTable("scheduler_lease").addColumn("holder_priority", "integer").execute();
  await db.schema.alterTable("scheduler_lease").addColumn("handover_to", key).execute();
  await db.schema.alterTable("scheduler_lease").addColumn("proof", "varchar(128)").execute();
  await db.schema
    .createTable("ha_cluster")
    .addColumn("name", "varchar(64)", (c) => c.primaryKey())
    .addColumn("salt", "varchar(64)", (c) => c.notNull())
    .addColumn("verifier", "varchar(128)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("ha_node")
    .addColumn("cluster", "varchar(64)", (c) => c.notNull())
    .addColumn("node_id", key, (c) => c.notNull())
    .addColumn("host", key, (c) => c.notNull())
    .addColumn("pid", "integer", (c) => c.notNull())
    .addColumn("priority", "integer", (c) => c.notNull())
    .addColumn("no_preempt", "integer", (c) => c.notNull())
    .addColumn("role", "varchar(16)", (c) => c.notNull())
    .addColumn("last_seen", "bigint", (c) => c.notNull())
    .addColumn("child_pid", "integer")
    .addColumn("child_health", "varchar(16)")
    .addColumn("started_at", "bigint", (c) => c.notNull())
    .addColumn("version", "varchar(64)", (c) => c.notNull())
    .addPrimaryKeyConstraint("ha_node_pk", ["cluster", "node_id"])
    .execute();
  await createTableWithId(db, dialect, "ha_event")
    .addColumn("cluster", "varchar(64)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("node_id", key, (c) => c.notNull())
    .addColumn("from_role", "varchar(16)", (c) => c.notNull())
    .addColumn("to_role", "varchar(16)", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("epoch", "bigint")
    .execute();
  await db.schema.createIndex("ha_event_cluster_idx").on("ha_event").columns(["cluster", "id"]).execute();
}
