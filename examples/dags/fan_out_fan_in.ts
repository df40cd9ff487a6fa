/**
 * Fan-out / fan-in: one task produces work, three run side by side, one joins them.
 * Function tasks return values (kept as the task's result); bash tasks get `env`.
 */
import { bash, chain, dag, task } from "aloft";

dag(
  "fan_out_fan_in",
  {
    schedule: "30 6 * * *",
    start: "2026-01-01",
    timezone: "Europe/Paris",
    tags: ["example"],
    description: "extract, three transforms in parallel, load",
    defaults: { retries: 2, retryDelay: "10s", executionTimeout: "5m" },
  },
  () => {
    const extract = task("extract", () => ({ rows: 3 }));
    const transforms = ["orders", "customers", "invoices"].map((table) =>
      bash(`transform_${table}`, 'echo "transforming $TABLE" && sleep 1', { env: { TABLE: table } }),
    );
    const load = task("load", (ctx) => {
      ctx.log.info("loading", { tables: transforms.length });
      return "loaded";
    });
    chain(extract, transforms, load);
  },
);
