/** The DAG files the latest deploy could not import, each with its error as the import raised it. */
import { api } from "../../api.js";
import { when } from "../../format.js";
import { usePoll } from "../../hooks.js";
import type { Route } from "../../router.js";
import { listPlace, PAGE_SIZE, Pager, SearchBox } from "./shared.js";

interface ImportError {
  import_error_id: number;
  timestamp: string;
  filename: string;
  stack_trace: string;
}

export function ImportErrorsPage({ route }: { route: Route }) {
  const { offset, search } = listPlace(route);
  const list = usePoll(
    () =>
      api<{ import_errors: ImportError[]; total_entries: number }>("/api/v2/importErrors", {
        query: { limit: PAGE_SIZE, offset, order_by: "filename", filename_pattern: search || undefined },
      }),
    [offset, search],
    0,
  );
  return (
    <>
      <SearchBox route={route} placeholder="Search file names">
        {list.data && <span class="muted">{list.data.total_entries === 1 ? "1 file" : `${list.data.total_entries} files`} failed to import</span>}
      </SearchBox>
      {list.error && <div class="error">{list.error}</div>}
      <table class="list" data-testid="import-errors">
        <thead>
          <tr>
            <th>File</th>
            <th>Deployed</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.import_errors.map((e) => (
            <tr key={e.import_error_id} data-key={e.filename} class="admin-top">
              <td class="mono">{e.filename}</td>
              <td style={{ whiteSpace: "nowrap" }}>{when(e.timestamp)}</td>
              <td>
                <pre class="log admin-trace">{e.stack_trace}</pre>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.import_errors.length === 0 && <p class="muted">{search ? "No import error matches." : "Every DAG file of the latest deploy imported."}</p>}
      {list.data && <Pager route={route} total={list.data.total_entries} shown={list.data.import_errors.length} />}
    </>
  );
}
