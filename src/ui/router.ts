/**
 * Hash routes (`#/dags/etl?tab=graph`): the server serves one page at `/`, and every view has an
 * address that can be bookmarked and shared.
 */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** The path's segments, decoded: `#/dags/a%2Fb/runs/r1` is ["dags", "a/b", "runs", "r1"]. */
  segments: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#/, "") || "/dags";
  const [path = "", search = ""] = hash.split("?", 2);
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { segments, query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

/** A link target: `href(["dags", id], { tab: "graph" })` is `#/dags/<id>?tab=graph`. */
export function href(segments: (string | number)[], query: Record<string, string | number | undefined> = {}): string {
  const path = segments.map((s) => encodeURIComponent(String(s))).join("/");
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, String(value));
  const search = params.toString();
  return `#/${path}${search ? `?${search}` : ""}`;
}

export function navigate(target: string): void {
  location.hash = target.replace(/^#/, "");
}
