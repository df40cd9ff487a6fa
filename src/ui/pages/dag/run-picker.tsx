/** Which run the graph or the Gantt shows: the grid's runs, newest first. */
import type { GridRun } from "./types.js";

export function RunPicker({ runs, runId, onPick, testId }: { runs: GridRun[]; runId: string | undefined; onPick: (runId: string) => void; testId: string }) {
  return (
    <label class="inline">
      Run{" "}
      <select value={runId ?? ""} onChange={(e) => onPick(e.currentTarget.value)} data-testid={testId}>
        {[...runs].reverse().map((r) => (
          <option key={r.run_id} value={r.run_id}>
            {r.run_id} ({r.state})
          </option>
        ))}
      </select>
    </label>
  );
}
