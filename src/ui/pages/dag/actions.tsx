/**
 * The operations on a run or a task instance from the DAG page, each behind a confirmation that
 * says what will change; the API's message shows in the dialog when it refuses.
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

interface TaskTarget extends RunTarget {
  taskId: string;
}

/** Which related tasks an operation on a task includes too. */
function RelativesChoice({ value, onChange }: { value: { upstream: boolean; downstream: boolean }; onChange: (v: { upstream: boolean; downstream: boolean }) => void }) {
  return (
    <>
      <label class="check">
        <input type="checkbox" checked={value.downstream} onChange={(e) => onChange({ ...value, downstream: e.currentTarget.checked })} data-testid="include-downstream" /> Downstream tasks too
      </label>
      <label class="check">
        <input type="checkbox" checked={value.upstream} onChange={(e) => onChange({ ...value, upstream: e.currentTarget.checked })} data-testid="include-upstream" /> Upstream tasks too
      </label>
    </>
  );
}

export function ClearTaskDialog({ dagId, runId, taskId, onDone, onClose }: TaskTarget) {
  const [relatives, setRelatives] = useState({ upstream: false, downstream: true });
  const [onlyFailed, setOnlyFailed] = useState(false);
  return (
    <ConfirmDialog
      title={`Clear ${taskId}?`}
      confirmLabel="Clear"
      onClose={onClose}
      onConfirm={async () => {
        const body = {
          dry_run: false,
          dag_run_id: runId,
          task_ids: [taskId],
          only_failed: onlyFailed,
          include_upstream: relatives.upstream,
          include_downstream: relatives.downstream,
        };
        await api(`/api/v2/dags/${enc(dagId)}/clearTaskInstances`, { method: "POST", body });
        onDone();
      }}
    >
      <p>
        The task instance{relatives.upstream || relatives.downstream ? "s" : ""} of run <code>{runId}</code> go back to no status and run again (every map index of a mapped task).
      </p>
      <RelativesChoice value={relatives} onChange={setRelatives} />
      <label class="check">
        <input type="checkbox" checked={onlyFailed} onChange={(e) => setOnlyFailed(e.currentTarget.checked)} /> Only the failed ones
      </label>
    </ConfirmDialog>
  );
}

export function MarkTaskDialog({ dagId, runId, taskId, state, onDone, onClose }: TaskTarget & { state: "success" | "failed" }) {
  const [relatives, setRelatives] = useState({ upstream: false, downstream: false });
  return (
    <ConfirmDialog
      title={`Mark ${taskId} ${state}?`}
      confirmLabel={`Mark ${state}`}
      danger={state === "failed"}
      onClose={onClose}
      onConfirm={async () => {
        const body = { new_state: state, include_upstream: relatives.upstream, include_downstream: relatives.downstream };
        await api(`${runPath(dagId, runId)}/taskInstances/${enc(taskId)}`, { method: "PATCH", body });
        onDone();
      }}
    >
      <p>
        Every instance of <code>{taskId}</code> in run <code>{runId}</code> is marked {state}; a running try is stopped.
      </p>
      <RelativesChoice value={relatives} onChange={setRelatives} />
    </ConfirmDialog>
  );
}
