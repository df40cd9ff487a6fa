/**
 * A DAG's graph layout, computed by the layout worker (off the page's thread) and kept per DAG
 * version: the structure does not change between polls, nor when the user switches tabs.
 */
import { useEffect, useState } from "preact/hooks";
import type { LayoutRequest, LayoutResult } from "./layout-types.js";

/** Layouts kept: the DAGs and versions looked at most recently. */
const KEPT = 6;
const layouts = new Map<string, Promise<LayoutResult>>();

function layoutInWorker(request: LayoutRequest): Promise<LayoutResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker("/ui/assets/layout-worker.js", { type: "module" });
    worker.onmessage = (event: MessageEvent<LayoutResult>) => {
      resolve(event.data);
      worker.terminate();
    };
    worker.onerror = (event) => {
      reject(new Error(`the graph layout failed: ${event.message || "the layout worker stopped"}`));
      worker.terminate();
    };
    worker.postMessage(request);
  });
}

/** The layout for `key` (DAG and version), computed from `request` the first time the key is asked for. */
export function useLayout(key: string | undefined, request: LayoutRequest | undefined): { layout?: LayoutResult; error?: string } {
  const [state, setState] = useState<{ key?: string; layout?: LayoutResult; error?: string }>({});
  useEffect(() => {
    if (!key) return;
    let pending = layouts.get(key);
    if (!pending) {
      if (!request) return;
      pending = layoutInWorker(request);
      layouts.set(key, pending);
      pending.catch(() => layouts.delete(key));
      while (layouts.size > KEPT) layouts.delete(layouts.keys().next().value!);
    }
    let current = true;
    pending.then(
      (layout) => current && setState({ key, layout }),
      (e: Error) => current && setState({ key, error: e.message }),
    );
    return () => {
      current = false;
    };
  }, [key, request]);
  return state.key === key ? state : {};
}
