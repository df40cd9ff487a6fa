/** The try history of a task instance: one row a try; a click shows that try's log. */
import { StateBadge } from "../../components/state.js";
import { duration, secondsBetween, when } from "../../format.js";
import { navigate } from "../../router.js";
import type { TaskTry } from "./types.js";

export function TriesTable({ tries, selected, logHref }: { tries: TaskTry[]; selected: number | undefined; logHref: (tryNumber: number) => string }) {
  if (tries.length === 0) return <p class="muted">No try has started yet.</p>;
  return (
    <table class="list tries" data-testid="tries">
      <thead>
        <tr>
          <th>Try</th>
          <th>State</th>
          <th>Started</th>
          <th>Ended</th>
          <th>Duration</th>
          <th>Host</th>
          <th>Executor</th>
        </tr>
      </thead>
      <tbody>
        {tries.map((t) => (
          <tr
            key={t.try_number}
            class={t.try_number === selected ? "selected clickable" : "clickable"}
            data-testid={`try-${t.try_number}`}
            onClick={() => navigate(logHref(t.try_number))}
            title={`Show the log of try ${t.try_number}`}
          >
            <td>
              <a href={logHref(t.try_number)}>{t.try_number}</a>
            </td>
            <td data-state={t.state ?? "none"}>
              <StateBadge state={t.state} />
            </td>
            <td>{when(t.start_date)}</td>
            <td>{when(t.end_date)}</td>
            <td>{duration(t.duration ?? secondsBetween(t.start_date, t.end_date))}</td>
            <td class="mono">{t.hostname}</td>
            <td>{t.executor}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
