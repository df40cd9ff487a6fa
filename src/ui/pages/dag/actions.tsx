/**
 * The operations on a run from the DAG page, each behind a confirmation that says what will change;
 * the API's message shows in the dialog when it refuses. A task's are in components/task-actions.tsx.
 */
import { useState } from "preact/hooks";
import { api, enc } from "../../api.js";
import { ConfirmDialog } from "../../components/modal.js";

interface RunTarget {
  dagId: string;
  runId: string;
  onDone: () => void;
  onClose: () => void;
}

const runPath = (dagId: string, runId: string) => `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}`;

export function ClearRunDialog({ dagId, runId, onDone, onClose }: RunTarget) {
  const [onlyFailed, setOnlyFailed] = useState(false);
  return (
    <ConfirmDialog
      title={`Clear run ${runId}?`}
      confirmLabel="Clear"
      onClose={onClose}
      onConfirm={async () => {
        await api(`${runPath(dagId, runId)}/clear`, { method: "POST", body: { dry_run: false, only_failed: onlyFailed } });
        onDone();
      }}
    >
      <p>The run goes back to queued and its cleared task instances run again, on the DAG version the run started with.</p>
      <label class="check">
        <input type="checkbox" checked={onlyFailed} onChange={(e) => setOnlyFailed(e.currentTarget.checked)} data-testid="clear-only-failed" /> Only the failed tasks
      </label>
    </ConfirmDialog>
  );
}

export function MarkRunDialog({ dagId, runId, state, onDone, onClose }: RunTarget & { state: "success" | "failed" }) {
  return (
    <ConfirmDialog
      title={`Mark run ${runId} ${state}?`}
      confirmLabel={`Mark ${state}`}
      danger={state === "failed"}
      onClose={onClose}
      onConfirm={async () => {
        await api(runPath(dagId, runId), { method: "PATCH", body: { state } });
        onDone();
      }}
    >
      <p>
        {state === "success"
          ? "The run and its unfinished task instances are marked success; running tries are stopped."
          : "The run is marked failed; its running tries are stopped and its unfinished task instances will not run."}
      </p>
    </ConfirmDialog>
  );
}
