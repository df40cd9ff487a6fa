/**
 * Windowed rows for long lists (the grid and the Gantt chart of a DAG of thousands of tasks): only
 * the rows in the scroll viewport, plus a margin, are rendered; rows have one fixed height.
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** Rows rendered above and below the viewport, so a fast scroll shows no blank band. */
const MARGIN_ROWS = 12;

export function useVirtualRows(count: number, rowHeight: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    let frame = 0;
    const update = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => setView({ top: element.scrollTop, height: element.clientHeight }));
    };
    setView({ top: element.scrollTop, height: element.clientHeight });
    element.addEventListener("scroll", update, { passive: true });
    const resize = new ResizeObserver(update);
    resize.observe(element);
    return () => {
      cancelAnimationFrame(frame);
      element.removeEventListener("scroll", update);
      resize.disconnect();
    };
  }, []);
  const first = Math.max(0, Math.floor(view.top / rowHeight) - MARGIN_ROWS);
  const last = Math.min(count, Math.ceil((view.top + view.height) / rowHeight) + MARGIN_ROWS);
  return { ref, first, last };
}
