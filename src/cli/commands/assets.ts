/** `aloft assets list|events`: the assets DAGs mention, and the updates recorded for one. */
import type { Command } from "commander";
import { NotFoundError } from "../../errors.js";
import { iso, printRows, withGlobalFlags, withStore, type GlobalFlags } from "../context.js";

type JsonFlag = GlobalFlags & { json?: boolean };

export function registerAssetsCommands(program: Command): void {
  const assets = program.command("assets").description("list assets and their update events");

  withGlobalFlags(assets.command("list").description("list the assets DAGs update or are scheduled on").option("--json", "print JSON")).action(
    (flags: JsonFlag) =>
      withStore(flags, async (store) => {
        const rows = await store.db.selectFrom("asset").select(["uri", "created_at"]).orderBy("uri").execute();
        const consumers = await store.db.selectFrom("dag_schedule_asset").select(["uri", "dag_id"]).orderBy("dag_id").execute();
        const events = await store.db
          .selectFrom("asset_event")
          .select((eb) => ["uri", eb.fn.countAll<number>().as("n"), eb.fn.max("created_at").as("last")])
          .groupBy("uri")
          .execute();
        printRows(
          rows.map((r) => {
            const e = events.find((x) => x.uri === r.uri);
            return {
              uri: r.uri,
              scheduled_dags: consumers.filter((c) => c.uri === r.uri).map((c) => c.dag_id),
              events: Number(e?.n ?? 0),
              last_event: e?.last === null || e?.last === undefined ? null : iso(Number(e.last)),
              created_at: iso(r.created_at),
            };
          }),
          Boolean(flags.json),
          ["uri", "events", "last_event", "scheduled_dags"],
        );
      }),
  );

  withGlobalFlags(
    assets
      .command("events")
      .description("list the update events of an asset, newest first")
      .argument("<uri>")
      .option("--limit <n>", "at most this many events", "50")
      .option("--json", "print JSON"),
  ).action((uri: string, flags: JsonFlag & { limit: string }) =>
    withStore(flags, async (store) => {
      const known = await store.db.selectFrom("asset").select("uri").where("uri", "=", uri).executeTakeFirst();
      if (!known) throw new NotFoundError(`asset '${uri}' is not known: see 'aloft assets list' for the URIs`);
      const rows = await store.db
        .selectFrom("asset_event")
        .selectAll()
        .where("uri", "=", uri)
        .orderBy("id", "desc")
        .limit(Number(flags.limit) || 50)
        .execute();
      printRows(
        rows.map((r) => ({
          id: r.id,
          uri: r.uri,
          timestamp: iso(r.created_at),
          source_dag_id: r.source_dag_id,
          source_run_id: r.source_run_id,
          source_task_id: r.source_task_id,
        })),
        Boolean(flags.json),
        ["id", "timestamp", "source_dag_id", "source_run_id", "source_task_id"],
      );
    }),
  );
}
