/**
 * Manual-only DAG (schedule null) with params, a task that fails on its first try and succeeds on its
 * retry, and a bash task that skips itself with exit code 99 (Airflow's convention).
 * Try: aloft dags trigger retries_and_params --conf '{"who": "ops"}'
 */
import { bash, dag, task } from "aloft";

dag(
  "retries_and_params",
  { schedule: null, params: { who: "world" }, tags: ["example"], description: "params, retries, skip" },
  () => {
    const flaky = task(
      "flaky",
      (ctx) => {
        if (ctx.tryNumber === 1) throw new Error("first try fails on purpose; the retry succeeds");
        return `hello ${String(ctx.params.who)}`;
      },
      { retries: 1, retryDelay: "1s" },
    );
    const skipped = bash("maybe_skip", 'echo "nothing to do today"; exit 99');
    flaky.then(skipped);
  },
);
