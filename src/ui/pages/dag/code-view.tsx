/**
 * The DAG file's code as a DAG version stored it: by default the version the selected run ran on,
 * or any other from the version list.
 */
import { api, enc } from "../../api.js";
import { usePoll } from "../../hooks.js";

interface DagVersion {
  version_number: number;
  created_at: string;
  bundle_version: string | null;
}
interface DagSource {
  content: string | null;
  dag_id: string;
  version_number: number | null;
}

export function CodeView({ dagId, version, onVersion }: { dagId: string; version: number | undefined; onVersion: (v: number) => void }) {
  const versions = usePoll(() => api<{ dag_versions: DagVersion[] }>(`/api/v2/dags/${enc(dagId)}/dagVersions`, { query: { order_by: "-version_number", limit: 100 } }), [dagId], 0);
  const shown = version ?? versions.data?.dag_versions[0]?.version_number;
  const source = usePoll(
    async () => (shown === undefined ? undefined : api<DagSource>(`/api/v2/dagSources/${enc(dagId)}`, { query: { version_number: shown } })),
    [dagId, shown],
    0,
  );
  const lines = (source.data?.content ?? "").split("\n");
  return (
    <div data-testid="code">
      <div class="toolbar">
        <label class="inline">
          Version{" "}
          <select value={shown ?? ""} onChange={(e) => onVersion(Number(e.currentTarget.value))} data-testid="code-version">
            {versions.data?.dag_versions.map((v) => (
              <option key={v.version_number} value={v.version_number}>
                {v.version_number} · {new Date(v.created_at).toLocaleString()}
              </option>
            ))}
          </select>
        </label>
      </div>
      {versions.error && <div class="error">{versions.error}</div>}
      {source.error && <div class="error">Could not load the code of version {shown}: {source.error}</div>}
      {source.data && (
        <pre class="code" data-version={source.data.version_number ?? ""}>
          <code>
            {lines.map((line, i) => (
              <div key={i} class="code-line">
                <span class="line-no">{i + 1}</span>
                {line || " "}
              </div>
            ))}
          </code>
        </pre>
      )}
    </div>
  );
}
