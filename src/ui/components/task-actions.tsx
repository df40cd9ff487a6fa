/**
 * What an operator does to a task in a run: clear it, mark it success or failed, write its note.
 * Each asks for confirmation saying what will happen (clearing lists, from a dry run, the instances
 * it would clear). For the task instance page and the grid's details panel; hidden below role user.
 *
 * Aloft changes every instance of a mapped task together (the API refuses a map index for these), so
 * a mapped task's dialogs say so.
 */
import { useEffect, useState } from "preact/hooks";
import { api, enc, messageOf } from "../api.js";
import { useCan } from "../session.js";
import { ConfirmDialog, useDialog } from "./modal.js";
import { StateBadge } from "./state.js";

export interface TaskInRun {
  dagId: string;
  runId: string;
  taskId: string;
  /** How many mapped instances the task has; 0 or absent for an unmapped task. */
  mappedCount?: number;
}

interface Instance {
  task_id: string;
  map_index: number;
  state: string | null;
}

interface ClearOptions {
  include_downstream: boolean;
  include_upstream: boolean;
  only_failed: boolean;
}

type MarkState = "success" | "failed";

const taskPath = (t: TaskInRun) => `/api/v2/dags/${enc(t.dagId)}/dagRuns/${enc(t.runId)}/taskInstances/${enc(t.taskId)}`;

/** "task 'x'" or "the 4 instances of mapped task 'x'". */
function whichTask(t: TaskInRun): string {
  return t.mappedCount ? `the ${t.mappedCount} instances of mapped task '${t.taskId}'` : `task '${t.taskId}'`;
}

/** Clear, Mark success and Mark failed buttons; `onChanged` runs after a change succeeded. */
export function TaskActions({ task, onChanged }: { task: TaskInRun; onChanged?: () => void }) {
  const canOperate = useCan("user");
  const { dialog, open, close } = useDialog();
  if (!canOperate) return null;
  const done = () => onChanged?.();
  const mark = (state: MarkState) => open(<MarkDialog task={task} state={state} onDone={done} onClose={close} />);
  return (
    <div class="task-actions">
      <button onClick={() => open(<ClearDialog task={task} onDone={done} onClose={close} />)} data-testid="clear-task">
        Clear
      </button>
      <button onClick={() => mark("success")} data-testid="mark-success">
        Mark success
      </button>
      <button onClick={() => mark("failed")} data-testid="mark-failed">
        Mark failed
      </button>
      {dialog}
    </div>
  );
}

function clearBody(task: TaskInRun, options: ClearOptions, dryRun: boolean) {
  return { dag_run_id: task.runId, task_ids: [task.taskId], dry_run: dryRun, ...options };
}

function ClearDialog({ task, onDone, onClose }: { task: TaskInRun; onDone: () => void; onClose: () => void }) {
  const [options, setOptions] = useState<ClearOptions>({ include_downstream: true, include_upstream: false, only_failed: false });
  const [preview, setPreview] = useState<{ instances?: Instance[]; error?: string }>({});
  const clearPath = `/api/v2/dags/${enc(task.dagId)}/clearTaskInstances`;

  // A dry run for each choice of options: the dialog lists what confirming would clear.
  useEffect(() => {
    let current = true;
    setPreview({});
    api<{ task_instances: Instance[] }>(clearPath, { method: "POST", body: clearBody(task, options, true) }).then(
      (r) => current && setPreview({ instances: r.task_instances }),
      (e) => current && setPreview({ error: messageOf(e) }),
    );
    return () => {
      current = false;
    };
  }, [clearPath, task.runId, task.taskId, options]);

  const toggle = (name: keyof ClearOptions) => setOptions((o) => ({ ...o, [name]: !o[name] }));
  const box = (name: keyof ClearOptions, label: string) => (
    <label class="check">
      <input type="checkbox" checked={options[name]} onChange={() => toggle(name)} data-testid={`clear-${name.replace(/_/g, "-")}`} /> {label}
    </label>
  );
  return (
    <ConfirmDialog
      title={`Clear ${task.taskId}?`}
      confirmLabel="Clear"
      onConfirm={async () => {
        await api(clearPath, { method: "POST", body: clearBody(task, options, false) });
        onDone();
      }}
      onClose={onClose}
    >
      <p>
        Clearing sets {whichTask(task)} of run <code>{task.runId}</code> back to no state, with its retries given again, so that the scheduler runs it again; a finished run goes
        back to queued. A try that is running is stopped and runs again.
      </p>
      <div class="checks">
        {box("include_downstream", "Downstream: also the tasks after it")}
        {box("include_upstream", "Upstream: also the tasks before it")}
        {box("only_failed", "Only failed: only instances that failed or are upstream_failed")}
      </div>
      <ClearPreview {...preview} />
    </ConfirmDialog>
  );
}

function ClearPreview({ instances, error }: { instances?: Instance[]; error?: string }) {
  if (error) return <div class="error">Could not list what would be cleared: {error}</div>;
  if (!instances) return <p class="muted">Listing what would be cleared…</p>;
  if (instances.length === 0) return <p class="notice">Nothing would be cleared with these options.</p>;
  return (
    <div data-testid="clear-preview">
      <p>
        These {instances.length} task instance{instances.length === 1 ? "" : "s"} will be cleared:
      </p>
      <div class="preview-list">
        <table class="list">
          <tbody>
            {instances.map((ti) => (
              <tr key={`${ti.task_id}|${ti.map_index}`}>
                <td class="mono">
                  {ti.task_id}
                  {ti.map_index >= 0 && ` [${ti.map_index}]`}
                </td>
                <td>
                  <StateBadge state={ti.state} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function MarkDialog({ task, state, onDone, onClose }: { task: TaskInRun; state: MarkState; onDone: () => void; onClose: () => void }) {
  const [upstream, setUpstream] = useState(false);
  const [downstream, setDownstream] = useState(false);
  return (
    <ConfirmDialog
      title={`Mark ${task.taskId} ${state}?`}
      confirmLabel={`Mark ${state}`}
      danger={state === "failed"}
      onConfirm={async () => {
        await api(taskPath(task), { method: "PATCH", body: { new_state: state, include_upstream: upstream, include_downstream: downstream } });
        onDone();
      }}
      onClose={onClose}
    >
      <p>
        Sets {whichTask(task)} of run <code>{task.runId}</code> to <StateBadge state={state} /> without running it. A try that is running is stopped and its outcome ignored.
        {state === "success" && " Failed tasks after it are cleared, so that they run again."}
      </p>
      <div class="checks">
        <label class="check">
          <input type="checkbox" checked={downstream} onChange={() => setDownstream(!downstream)} data-testid="mark-include-downstream" /> Downstream: also mark the tasks after it
        </label>
        <label class="check">
          <input type="checkbox" checked={upstream} onChange={() => setUpstream(!upstream)} data-testid="mark-include-upstream" /> Upstream: also mark the tasks before it
        </label>
      </div>
    </ConfirmDialog>
  );
}

/** The task's note with an Edit button (role user and above); an empty note removes it. */
export function TaskNote({ task, note, onChanged }: { task: TaskInRun; note: string | null; onChanged?: () => void }) {
  const canOperate = useCan("user");
  const { dialog, open, close } = useDialog();
  return (
    <div class="task-note">
      <span data-testid="task-note" class={note ? "" : "muted"}>
        {note || "No note"}
      </span>
      {canOperate && (
        <button class="small" onClick={() => open(<NoteDialog task={task} note={note} onDone={() => onChanged?.()} onClose={close} />)} data-testid="edit-note">
          {note ? "Edit" : "Add note"}
        </button>
      )}
      {dialog}
    </div>
  );
}

/** Airflow's limit, which the API's schema holds it to. */
const NOTE_MAX = 1000;

function NoteDialog({ task, note, onDone, onClose }: { task: TaskInRun; note: string | null; onDone: () => void; onClose: () => void }) {
  const [text, setText] = useState(note ?? "");
  return (
    <ConfirmDialog
      title={`Note of ${task.taskId}`}
      confirmLabel={text.trim() ? "Save note" : "Remove note"}
      onConfirm={async () => {
        await api(taskPath(task), { method: "PATCH", body: { note: text.trim() ? text : null } });
        onDone();
      }}
      onClose={onClose}
    >
      <p>
        The note of {whichTask(task)} of run <code>{task.runId}</code>, for everyone who looks at it{text.trim() ? "" : "; saving it empty removes it"}.
      </p>
      <textarea rows={5} class="note-input" maxLength={NOTE_MAX} value={text} onInput={(e) => setText(e.currentTarget.value)} data-testid="note-input" />
      <div class="field-help">
        {text.length} / {NOTE_MAX} characters
      </div>
    </ConfirmDialog>
  );
}
