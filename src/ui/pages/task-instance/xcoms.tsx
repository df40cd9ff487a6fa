/** The XComs a task instance pushed: each key with its value as pretty-printed JSON. */
import { api, enc } from "../../api.js";
import { when } from "../../format.js";
import { usePoll } from "../../hooks.js";
import { taskPath, type InstanceRef } from "./types.js";

interface XComEntry {
  key: string;
  map_index: number;
  timestamp: string;
}

/** Airflow's list pages hold at most 100; an instance with more keys is rare and says so. */
const MAX_KEYS = 100;

/** `state` is the instance's: its XComs are read again when it changes (a finished try pushes its return value). */
export function XComs({ instance, state }: { instance: InstanceRef; state: string | null }) {
  const { dagId, runId, taskId, mapIndex } = instance;
  const loaded = usePoll(
    async () => {
      const path = `${taskPath(instance)}/xcomEntries`;
      const list = await api<{ xcom_entries: XComEntry[]; total_entries: number }>(path, { query: { map_index: mapIndex, limit: MAX_KEYS } });
      const values = await Promise.all(
        list.xcom_entries.map((e) => api<{ value: unknown }>(`${path}/${enc(e.key)}`, { query: { map_index: mapIndex, deserialize: true } }).then((r) => r.value)),
      );
      return { entries: list.xcom_entries.map((e, i) => ({ ...e, value: values[i] })), total: list.total_entries };
    },
    [dagId, runId, taskId, mapIndex, state],
    0,
  );
  const data = loaded.data;
  return (
    <div data-testid="xcoms">
      {loaded.error && <div class="error">{loaded.error}</div>}
      {!data && !loaded.error && <p class="muted">Loading the XComs…</p>}
      {data && data.entries.length === 0 && <p class="muted">This task instance pushed no XCom{state === "running" ? " yet" : ""}.</p>}
      {data && data.entries.length > 0 && (
        <table class="list xcoms">
          <thead>
            <tr>
              <th>Key</th>
              <th>Value</th>
              <th>Pushed</th>
            </tr>
          </thead>
          <tbody>
            {data.entries.map((e) => (
              <tr key={e.key} data-testid={`xcom-${e.key}`}>
                <td class="mono">{e.key}</td>
                <td>
                  <pre class="value">{JSON.stringify(e.value, null, 2)}</pre>
                </td>
                <td class="nowrap">{when(e.timestamp)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.total > data.entries.length && (
        <p class="muted">
          Showing {data.entries.length} of {data.total} keys.
        </p>
      )}
    </div>
  );
}
