/**
 * One task instance: `#/dags/<dag>/runs/<run>/tasks/<task>?map_index=N&try=N&tab=log|tries|xcom|rendered`.
 * Its header and tries are read again every 2 s while it is not finished (every 15 s after, so that a
 * clear made elsewhere still shows); the log of the selected try follows it live while it runs.
 */
import { useRef } from "preact/hooks";
import { api, enc } from "../api.js";
import { StateDot } from "../components/state.js";
import { usePoll } from "../hooks.js";
import { href, type Route } from "../router.js";
import { Breadcrumbs, InstanceHeader } from "./task-instance/header.js";
import { LogView } from "./task-instance/log-view.js";
import { RenderedFields } from "./task-instance/rendered.js";
import { TriesTable } from "./task-instance/tries.js";
import { instancePath, isFinished, taskPath, type TaskInstance, type TaskTry } from "./task-instance/types.js";
import { XComs } from "./task-instance/xcoms.js";

const WHILE_ACTIVE_MS = 2000;
const WHILE_FINISHED_MS = 15000;
/** The list endpoint's largest page, and how many pages of a mapped task's instances the page reads. */
const PAGE = 100;
const MAX_PAGES = 10;

const TABS = [
  ["log", "Log"],
  ["tries", "Tries"],
  ["xcom", "XCom"],
  ["rendered", "Rendered"],
] as const;

interface TaskData {
  /** Every instance of the task in the run (several for a mapped task), in map index order. */
  instances: TaskInstance[];
  /** Whether there were more than the page read. */
  moreInstances: boolean;
  ti: TaskInstance;
  tries: TaskTry[];
}

export function TaskInstancePage({ dagId, runId, taskId, route }: { dagId: string; runId: string; taskId: string; route: Route }) {
  const tab = route.query.get("tab") ?? "log";
  const mapIndexText = route.query.get("map_index");
  const tryText = route.query.get("try");
  const last = useRef<{ key: string; at: number; value: TaskData }>();
  const key = `${dagId}|${runId}|${taskId}|${mapIndexText}`;

  const loaded = usePoll(
    async () => {
      const previous = last.current;
      if (previous?.key === key && isFinished(previous.value.ti.state) && Date.now() - previous.at < WHILE_FINISHED_MS) return previous.value;
      const value = await loadTask(dagId, runId, taskId, mapIndexText);
      last.current = { key, at: Date.now(), value };
      return value;
    },
    [key],
    WHILE_ACTIVE_MS,
  );
  /** After an action: read again now, whatever the state was. */
  const refresh = () => {
    last.current = undefined;
    loaded.reload();
  };

  const data = loaded.data;
  if (!data) {
    return (
      <>
        <Breadcrumbs dagId={dagId} runId={runId} taskId={taskId} />
        {loaded.error ? (
          <div class="error" data-testid="ti-error">
            {loaded.error}
          </div>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </>
    );
  }

  const { ti, tries, instances } = data;
  const instance = { dagId, runId, taskId, mapIndex: ti.map_index };
  const mapped = instances.filter((i) => i.map_index >= 0);
  const tryNumber = tryText ? Number(tryText) : tries.at(-1)?.try_number;
  /** This page's address with some of its query changed (undefined drops a parameter). */
  const pageHref = (change: Record<string, string | number | undefined>) =>
    href(["dags", dagId, "runs", runId, "tasks", taskId], { ...Object.fromEntries(route.query), ...change });
  const logHref = (n: number) => pageHref({ tab: "log", try: n });

  return (
    <>
      <Breadcrumbs dagId={dagId} runId={runId} taskId={taskId} mapIndex={ti.map_index} />
      {loaded.error && <div class="error">{loaded.error}</div>}
      <InstanceHeader ti={ti} mappedCount={mapped.length} onChanged={refresh} />
      {mapped.length > 0 && (
        <div class="panel map-indexes" data-testid="map-indexes">
          <span class="muted">Mapped instances{data.moreInstances ? ` (the first ${mapped.length})` : ""}:</span>
          {mapped.map((m) => (
            <a
              key={m.map_index}
              href={pageHref({ map_index: m.map_index, try: undefined })}
              class={m.map_index === ti.map_index ? "chip selected" : "chip"}
              data-testid={`map-index-${m.map_index}`}
              data-state={m.state ?? "none"}
              title={`map index ${m.map_index}: ${m.state ?? "no status"}`}
            >
              <StateDot state={m.state} /> {m.map_index}
            </a>
          ))}
        </div>
      )}
      <nav class="tabs">
        {TABS.map(([name, label]) => (
          <a key={name} href={pageHref({ tab: name })} class={tab === name ? "active" : ""} data-testid={`tab-${name}`}>
            {label}
            {name === "tries" && tries.length > 0 && <span class="muted"> ({tries.length})</span>}
          </a>
        ))}
      </nav>
      {tab === "log" && (
        <>
          {tries.length > 1 && (
            <div class="toolbar try-picker">
              <span class="muted">Try:</span>
              {tries.map((t) => (
                <a key={t.try_number} href={logHref(t.try_number)} class={t.try_number === tryNumber ? "chip selected" : "chip"} data-testid={`log-try-${t.try_number}`}>
                  <StateDot state={t.state} /> {t.try_number}
                </a>
              ))}
            </div>
          )}
          {tryNumber === undefined ? (
            <p class="notice" data-testid="no-try">
              No try has started yet ({ti.state ?? "no status"}): its log shows here once it starts.
            </p>
          ) : (
            <LogView instance={instance} tryNumber={tryNumber} />
          )}
        </>
      )}
      {tab === "tries" && <TriesTable tries={tries} selected={tryNumber} logHref={logHref} />}
      {tab === "xcom" && <XComs instance={instance} state={ti.state} />}
      {tab === "rendered" && <RenderedFields fields={ti.rendered_fields} />}
    </>
  );
}

/**
 * The task's instances, the one the address names (a mapped task's first when it names none) and its
 * tries. A task, run or DAG that is not there fails with the API's 404, which says what there is.
 */
async function loadTask(dagId: string, runId: string, taskId: string, mapIndexText: string | null): Promise<TaskData> {
  if (mapIndexText !== null && !/^-?\d+$/.test(mapIndexText)) throw new Error(`map_index in the address must be a whole number, not '${mapIndexText}'`);
  const base = { dagId, runId, taskId };
  const { instances, more } = await instancesOf(dagId, runId, taskId);
  // None listed: the single instance's 404 says why (no such task in the run, say).
  if (instances.length === 0) await api(taskPath(base));
  const first = instances[0];
  const mapIndex = mapIndexText !== null ? Number(mapIndexText) : (first?.map_index ?? -1);
  const ref = { ...base, mapIndex };
  const ti = instances.find((i) => i.map_index === mapIndex) ?? (await api<TaskInstance>(instancePath(ref)));
  const tries = await api<{ task_instances: TaskTry[] }>(`${instancePath(ref)}/tries`);
  return { instances, moreInstances: more, ti, tries: tries.task_instances };
}

async function instancesOf(dagId: string, runId: string, taskId: string): Promise<{ instances: TaskInstance[]; more: boolean }> {
  const path = `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances`;
  const instances: TaskInstance[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const list = await api<{ task_instances: TaskInstance[]; total_entries: number }>(path, { query: { task_id: taskId, order_by: "map_index", limit: PAGE, offset: page * PAGE } });
    instances.push(...list.task_instances);
    if (instances.length >= list.total_entries || list.task_instances.length === 0) return { instances, more: false };
  }
  return { instances, more: true };
}
