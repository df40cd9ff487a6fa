/** How times, durations and states read on every page. */

export function when(value: string | null | undefined): string {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** 0.4 s, 12 s, 3 min 5 s, 2 h 10 min. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** Seconds between two ISO times (the end defaults to now, for what is still running). */
export function secondsBetween(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start) return null;
  return ((end ? new Date(end).getTime() : Date.now()) - new Date(start).getTime()) / 1000;
}

/** Airflow's state colours, so its users read Aloft's pages at a glance. */
export const STATE_COLOURS: Record<string, string> = {
  success: "#4ade80",
  failed: "#ef4444",
  running: "#a3e635",
  queued: "#9ca3af",
  scheduled: "#d2b48c",
  up_for_retry: "#fbbf24",
  up_for_reschedule: "#40e0d0",
  upstream_failed: "#fb923c",
  skipped: "#f472b6",
  removed: "#d1d5db",
  deferred: "#a78bfa",
  restarting: "#ee82ee",
  none: "#ffffff",
};

export const stateColour = (state: string | null | undefined) => STATE_COLOURS[state ?? "none"] ?? "#e5e7eb";
