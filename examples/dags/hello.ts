/**
 * The smallest useful DAG: a bash task, then a function task that reads the run's context.
 * Runs every hour; trigger it by hand with `aloft dags trigger hello`.
 */
import { bash, dag, task } from "aloft";

dag("hello", { schedule: "@hourly", start: "2026-01-01", tags: ["example"], description: "bash, then TypeScript" }, () => {
  const greet = bash("greet", 'echo "hello from bash on $(hostname), logical date $ALOFT_DS"');
  const report = task("report", (ctx) => {
    ctx.log.info("run context", { runId: ctx.runId, tryNumber: ctx.tryNumber });
    return { greetedAt: ctx.logicalDate.toISOString() };
  });
  greet.then(report);
});
