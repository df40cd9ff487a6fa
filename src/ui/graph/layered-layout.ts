/**
 * A quick layered layout for large graphs, where dagre takes seconds (5,000 tasks: 3–4 s even with
 * longest-path ranking; most of it ordering and positioning): each node in the column of its longest
 * path from a root, ordered in its column by the mean row of its upstream nodes (one sweep, ties in
 * the input's order), edges drawn straight. Linear apart from one sort per column.
 */
import type { LayoutRequest, LayoutResult, PlacedNode } from "./layout-types.js";

export function layeredLayout({ nodes, edges }: LayoutRequest, nodeGap: number, rankGap: number): LayoutResult {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const upstream: number[][] = nodes.map(() => []);
  const downstream: number[][] = nodes.map(() => []);
  for (const [from, to] of edges) {
    const a = index.get(from);
    const b = index.get(to);
    if (a === undefined || b === undefined || a === b) continue;
    upstream[b]!.push(a);
    downstream[a]!.push(b);
  }

  // Column: longest path from a root (Kahn's order; nodes left on a cycle go in column 0).
  const rank = new Array<number>(nodes.length).fill(0);
  const waiting = upstream.map((u) => u.length);
  const queue: number[] = [];
  waiting.forEach((w, i) => w === 0 && queue.push(i));
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const next of downstream[node]!) {
      rank[next] = Math.max(rank[next]!, rank[node]! + 1);
      waiting[next] = waiting[next]! - 1;
      if (waiting[next] === 0) queue.push(next);
    }
  }

  const columns: number[][] = [];
  nodes.forEach((_, i) => (columns[rank[i]!] ??= []).push(i));
  // Row: mean row of the upstream nodes, so that chains run straight; ties keep the input's order.
  const row = new Array<number>(nodes.length).fill(0);
  for (const column of columns) {
    if (!column) continue;
    const key = column.map((i) => {
      const up = upstream[i]!;
      return up.length ? up.reduce((sum, u) => sum + row[u]!, 0) / up.length : -1;
    });
    const order = column.map((_, k) => k).sort((a, b) => key[a]! - key[b]! || a - b);
    order.forEach((k, position) => (row[column[k]!] = position));
  }

  let x = 0;
  let height = 0;
  const placed: PlacedNode[] = new Array(nodes.length);
  for (const column of columns) {
    if (!column) continue;
    const width = Math.max(...column.map((i) => nodes[i]!.width));
    for (const i of column) {
      const n = nodes[i]!;
      const y = row[i]! * (n.height + nodeGap);
      placed[i] = { id: n.id, x, y, width: n.width, height: n.height };
      height = Math.max(height, y + n.height);
    }
    x += width + rankGap;
  }
  const layoutEdges = edges
    .filter(([from, to]) => index.has(from) && index.has(to) && from !== to)
    .map(([from, to]) => {
      const a = placed[index.get(from)!]!;
      const b = placed[index.get(to)!]!;
      return { from, to, points: [{ x: a.x + a.width, y: a.y + a.height / 2 }, { x: b.x, y: b.y + b.height / 2 }] };
    });
  return { nodes: placed, edges: layoutEdges, width: Math.max(0, x - rankGap), height };
}
