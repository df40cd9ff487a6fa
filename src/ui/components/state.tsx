/** A run's or task's state, in Airflow's colours. */
import { stateColour } from "../format.js";

export function StateBadge({ state }: { state: string | null | undefined }) {
  const name = state ?? "no status";
  return (
    <span class="badge" data-state={state ?? "none"} style={{ background: stateColour(state) }}>
      {name}
    </span>
  );
}

/** A small square, for rows of recent runs; the state shows on hover. */
export function StateDot({ state, title }: { state: string | null | undefined; title?: string }) {
  return <span class="dot" data-state={state ?? "none"} title={title ?? state ?? "no status"} style={{ background: stateColour(state) }} />;
}
