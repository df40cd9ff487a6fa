/** The DAG list: search, tags, paused toggle, recent runs, next run, trigger. */
import { useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { ConfirmDialog, useDialog } from "../components/modal.js";
import { StateDot } from "../components/state.js";
import { TriggerDialog } from "../components/trigger-dialog.js";
import { when } from "../format.js";
import { usePoll } from "../hooks.js";
import { href, navigate, type Route } from "../router.js";
import { useCan } from "../session.js";

interface Dag {
  dag_id: string;
  is_paused: boolean;
  description: string | null;
  tags: { name: string }[];
  timetable_summary: string | null;
  next_dagrun_logical_date: string | null;
  next_dagrun_run_after: string | null;
}
interface RecentRun {
  run_id: string;
  state: string;
  logical_date: string | null;
  run_after: string | null;
}

const PAGE_SIZE = 50;

export function DagListPage({ route }: { route: Route }) {
  const search = route.query.get("search") ?? "";
  const tags = route.query.getAll("tag");
  const paused = route.query.get("paused") ?? "all";
  const offset = Number(route.query.get("offset") ?? 0);
  const [typed, setTyped] = useState(search);
  const { dialog, open, close } = useDialog();
  const canOperate = useCan("user");

  /** The list's address with one filter changed (filters live in the address, so they can be shared). */
  const withFilter = (change: Record<string, string | string[] | undefined>) => {
    const next = new URLSearchParams(route.query);
    next.delete("offset");
    for (const [key, value] of Object.entries(change)) {
      next.delete(key);
      for (const one of Array.isArray(value) ? value : value ? [value] : []) next.append(key, one);
    }
    const text = next.toString();
    return `#/dags${text ? `?${text}` : ""}`;
  };

  const list = usePoll(async () => {
    const dags = await api<{ dags: Dag[]; total_entries: number }>("/api/v2/dags", {
      query: {
        limit: PAGE_SIZE,
        offset,
        order_by: "dag_id",
        dag_id_pattern: search || undefined,
        tags: tags.length ? tags : undefined,
        tags_match_mode: "all",
        paused: paused === "all" ? undefined : paused === "paused",
      },
    });
    const ids = dags.dags.map((d) => d.dag_id);
    const recent = ids.length ? await api<{ runs: Record<string, RecentRun[]> }>("/ui/api/recent-runs", { query: { dag_ids: ids, limit: 10 } }) : { runs: {} };
    return { ...dags, recent: recent.runs };
  }, [search, tags.join("\u0000"), paused, offset]);

  const togglePause = (dag: Dag) =>
    open(
      <ConfirmDialog
        title={dag.is_paused ? `Unpause ${dag.dag_id}?` : `Pause ${dag.dag_id}?`}
        confirmLabel={dag.is_paused ? "Unpause" : "Pause"}
        onConfirm={async () => {
          await api(`/api/v2/dags/${enc(dag.dag_id)}`, { method: "PATCH", body: { is_paused: !dag.is_paused } });
          list.reload();
        }}
        onClose={close}
      >
        <p>{dag.is_paused ? "The scheduler will create this DAG's runs again, and its queued tasks will run." : "The scheduler stops creating runs for this DAG and starts none of its tasks; running tasks finish."}</p>
      </ConfirmDialog>,
    );

  const data = list.data;
  return (
    <>
      <h1>DAGs</h1>
      <form class="toolbar" onSubmit={(e) => (e.preventDefault(), navigate(withFilter({ search: typed })))}>
        <input type="search" placeholder="Search DAG ids" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} data-testid="dag-search" />
        <select value={paused} onChange={(e) => navigate(withFilter({ paused: e.currentTarget.value === "all" ? undefined : e.currentTarget.value }))}>
          <option value="all">All DAGs</option>
          <option value="active">Active</option>
          <option value="paused">Paused</option>
        </select>
        {tags.map((tag) => (
          <a key={tag} class="tag" href={withFilter({ tag: tags.filter((t) => t !== tag) })} title="Remove this tag filter">
            {tag} ×
          </a>
        ))}
        <span class="grow" />
        {data && <span class="muted">{data.total_entries} DAGs</span>}
      </form>
      {list.error && <div class="error">{list.error}</div>}
      <table class="list" data-testid="dag-list">
        <thead>
          <tr>
            <th>Active</th>
            <th>DAG</th>
            <th>Schedule</th>
            <th>Recent runs</th>
            <th>Next run</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data?.dags.map((dag) => (
            <tr key={dag.dag_id} data-dag-id={dag.dag_id}>
              <td>
                <label class="switch" title={dag.is_paused ? "Paused: click to unpause" : "Active: click to pause"}>
                  <input type="checkbox" checked={!dag.is_paused} disabled={!canOperate} onClick={(e) => (e.preventDefault(), togglePause(dag))} aria-label={`pause ${dag.dag_id}`} />
                  <span />
                </label>
              </td>
              <td>
                <a href={href(["dags", dag.dag_id])}>
                  <strong>{dag.dag_id}</strong>
                </a>
                <div>
                  {dag.tags.map((t) => (
                    <a key={t.name} class="tag" href={withFilter({ tag: [...new Set([...tags, t.name])] })}>
                      {t.name}
                    </a>
                  ))}
                  {dag.description && <span class="muted"> {dag.description}</span>}
                </div>
              </td>
              <td class="mono">{dag.timetable_summary ?? "None"}</td>
              <td>
                {[...(data.recent[dag.dag_id] ?? [])].reverse().map((run) => (
                  <a key={run.run_id} href={href(["dags", dag.dag_id], { tab: "grid", run: run.run_id })}>
                    <StateDot state={run.state} title={`${run.run_id}: ${run.state}`} />
                  </a>
                ))}
              </td>
              <td>{dag.is_paused ? <span class="muted">paused</span> : when(dag.next_dagrun_run_after)}</td>
              <td>
                {canOperate && (
                  <button onClick={() => open(<TriggerDialog dagId={dag.dag_id} onClose={close} />)} data-testid={`trigger-${dag.dag_id}`}>
                    Trigger
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.dags.length === 0 && <p class="muted">No DAG matches. Deploy DAG files with `aloft deploy`, or clear the filters.</p>}
      {data && data.total_entries > PAGE_SIZE && (
        <div class="toolbar" style={{ marginTop: 10 }}>
          <a class="button" href={offset > 0 ? withPage(route, offset - PAGE_SIZE) : undefined}>
            Previous
          </a>
          <span class="muted">
            {offset + 1}–{Math.min(offset + PAGE_SIZE, data.total_entries)} of {data.total_entries}
          </span>
          <a class="button" href={offset + PAGE_SIZE < data.total_entries ? withPage(route, offset + PAGE_SIZE) : undefined}>
            Next
          </a>
        </div>
      )}
      {dialog}
    </>
  );
}

function withPage(route: Route, offset: number): string {
  const next = new URLSearchParams(route.query);
  next.set("offset", String(Math.max(0, offset)));
  return `#/dags?${next}`;
}
