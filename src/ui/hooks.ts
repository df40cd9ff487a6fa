/** Data hooks: load from the API, and keep loading while the page is open ("updates while you watch"). */
import { messageOf } from "./api.js";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Loads again now (after an action, say). */
  reload: () => void;
}

/**
 * Calls `load` when `deps` change, then every `everyMs` while the tab is visible (0: once).
 * A slow answer that arrives after newer deps is dropped, so the page never shows stale data.
 */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], everyMs = 3000): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback(async (mine: number) => {
    try {
      const value = await loadRef.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(undefined);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(messageOf(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    const mine = ++generation.current;
    setLoading(true);
    setData(undefined);
    void run(mine);
    if (!everyMs) return;
    let busy = false;
    const timer = setInterval(async () => {
      if (busy || document.hidden) return;
      busy = true;
      await run(mine);
      busy = false;
    }, everyMs);
    return () => clearInterval(timer);
  }, deps);

  const reload = useCallback(() => void run(generation.current), [run]);
  return { data, error, loading, reload };
}
