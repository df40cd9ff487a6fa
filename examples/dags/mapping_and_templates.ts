/**
 * Manual-only DAG showing task runtime data: a validated param, a task whose return value (a list)
 * a mapped task expands over, a reduce that pulls the mapped values, and a templated bash command.
 * Try: aloft dags trigger mapping_and_templates --conf '{"files": 4}'
 *      aloft tasks render mapping_and_templates <run_id> announce
 */
import { bash, dag, param, task } from "aloft";

dag(
  "mapping_and_templates",
  { schedule: null, params: { files: param(3, { type: "integer", minimum: 0, maximum: 100 }) }, tags: ["example"] },
  () => {
    const list = task("list_files", (ctx) => Array.from({ length: Number(ctx.params.files) }, (_, i) => `part-${i}.csv`));
    const size = task("size", (ctx) => {
      ctx.log.info("sizing", { file: ctx.item, index: ctx.mapIndex });
      return String(ctx.item).length;
    }).expand(list);
    const total = task("total", async (ctx) => {
      const sizes = (await ctx.xcom.pull<number[]>({ taskId: "size" })) ?? [];
      return sizes.reduce((a, b) => a + b, 0);
    });
    const announce = bash("announce", 'echo "{{ params.files }} files for {{ ds }} (next day {{ macros.ds_add(ds, 1) }}), run {{ run_id }}"');
    size.then(total).then(announce);
  },
);
