/** The DAG page's title bar: id, tags, schedule, the paused switch and Trigger. */
import { api, enc } from "../../api.js";
import { ConfirmDialog, useDialog } from "../../components/modal.js";
import { TriggerDialog } from "../../components/trigger-dialog.js";
import { when } from "../../format.js";
import type { Loaded } from "../../hooks.js";
import { href } from "../../router.js";
import { useCan } from "../../session.js";
import type { Dag } from "./types.js";

export function DagHeader({ dagId, dag }: { dagId: string; dag: Loaded<Dag> }) {
  const canOperate = useCan("user");
  const { dialog, open, close } = useDialog();
  const d = dag.data;
  const togglePause = (current: Dag) =>
    open(
      <ConfirmDialog
        title={current.is_paused ? `Unpause ${dagId}?` : `Pause ${dagId}?`}
        confirmLabel={current.is_paused ? "Unpause" : "Pause"}
        onConfirm={async () => {
          await api(`/api/v2/dags/${enc(dagId)}`, { method: "PATCH", body: { is_paused: !current.is_paused } });
          dag.reload();
        }}
        onClose={close}
      >
        <p>{current.is_paused ? "The scheduler will create this DAG's runs again, and its queued tasks will run." : "The scheduler stops creating runs for this DAG and starts none of its tasks; running tasks finish."}</p>
      </ConfirmDialog>,
    );
  return (
    <div class="dag-header">
      <div class="toolbar">
        {d && (
          <label class="switch" title={d.is_paused ? "Paused: click to unpause" : "Active: click to pause"}>
            <input type="checkbox" checked={!d.is_paused} disabled={!canOperate} onClick={(e) => (e.preventDefault(), togglePause(d))} aria-label={`pause ${dagId}`} data-testid="dag-paused" />
            <span />
          </label>
        )}
        <h1 class="dag-title" data-testid="dag-id">
          <a href="#/dags" class="muted">
            DAGs
          </a>{" "}
          / {dagId}
        </h1>
        {d?.tags.map((t) => (
          <a key={t.name} class="tag" href={`#/dags?tag=${encodeURIComponent(t.name)}`}>
            {t.name}
          </a>
        ))}
        <span class="grow" />
        {d && (
          <span class="muted">
            Schedule <span class="mono">{d.timetable_summary ?? "None"}</span>
            {d.next_dagrun_run_after && !d.is_paused ? ` · next run ${when(d.next_dagrun_run_after)}` : ""}
          </span>
        )}
        {canOperate && (
          <button class="primary" onClick={() => open(<TriggerDialog dagId={dagId} onClose={close} />)} data-testid="trigger">
            Trigger
          </button>
        )}
      </div>
      {d?.description && <p class="muted dag-description">{d.description}</p>}
      {dag.error && <div class="error">{dag.error}</div>}
      {dialog}
    </div>
  );
}

export const TABS = ["grid", "graph", "gantt", "code", "details"] as const;
export type Tab = (typeof TABS)[number];

export function DagTabs({ dagId, tab, query }: { dagId: string; tab: Tab; query: Record<string, string | undefined> }) {
  return (
    <nav class="tabs">
      {TABS.map((t) => (
        <a key={t} href={href(["dags", dagId], { ...query, tab: t })} class={t === tab ? "active" : ""} data-testid={`tab-${t}`}>
          {t[0]!.toUpperCase() + t.slice(1)}
        </a>
      ))}
    </nav>
  );
}
