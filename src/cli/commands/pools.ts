import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { deletePool, getPool, listPools, setPool, type PoolStats } from "../../operations/pools.js";
import { CLI_ACTOR, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

const COLUMNS = ["pool", "slots", "used", "queued", "open", "description"];

export function registerPoolsCommands(program: Command): void {
  const pools = program.command("pools").description("list, create, change and delete pools");

  withGlobalFlags(pools.command("list").description("list the pools with their slots in use").option("--json", "print JSON")).action(
    (flags: GlobalFlags & { json?: boolean }) =>
      withStore(flags, async (store) => printRows(rows(await listPools(store.db)), Boolean(flags.json), COLUMNS)),
  );

  withGlobalFlags(pools.command("get").description("show one pool").argument("<name>").option("--json", "print JSON")).action(
    (name: string, flags: GlobalFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const pool = await getPool(store.db, name);
        if (flags.json) process.stdout.write(`${JSON.stringify(pool)}\n`);
        else printRows(rows([pool]), false, COLUMNS);
      }),
  );

  withGlobalFlags(
    pools
      .command("set")
      .description("create a pool, or change its slots")
      .argument("<name>")
      .argument("<slots>", "number of slots (an integer >= 0)")
      .option("--description <text>", "what the pool is for")
      .option("--json", "print JSON"),
  ).action((name: string, slotsText: string, flags: GlobalFlags & { description?: string; json?: boolean }) => {
    const slots = Number(slotsText);
    if (!/^\d+$/.test(slotsText.trim())) throw new UsageError(`slots must be an integer >= 0, got '${slotsText}'`);
    return withStore(flags, async (store) => {
      const pool = await setPool(store, CLI_ACTOR, name, slots, flags.description);
      process.stdout.write(flags.json ? `${JSON.stringify(pool)}\n` : `pool ${name} has ${pool.slots} slots (${pool.open} open)\n`);
    });
  });

  withGlobalFlags(pools.command("delete").description("delete a pool (not default_pool, nor one in use)").argument("<name>")).action(
    (name: string, flags: GlobalFlags) =>
      withStore(flags, async (store) => {
        await deletePool(store, CLI_ACTOR, name);
        process.stdout.write(`deleted pool ${name}\n`);
      }),
  );
}

const rows = (pools: PoolStats[]) => pools.map((p) => ({ ...p }));
