/**
 * Lays out a DAG's graph off the page's thread, so a large DAG's grid stays usable while its graph
 * is placed: dagre (layered, left to right) up to a few thousand tasks; above, a simpler layered
 * layout that takes milliseconds where dagre takes seconds.
 */
import dagre from "@dagrejs/dagre";
import type { LayoutRequest, LayoutResult } from "./layout-types.js";
import { layeredLayout } from "./layered-layout.js";

/** Above this many tasks, network-simplex ranking costs seconds; longest-path is several times faster. */
const FAST_RANKING_ABOVE = 1000;
/** Above this many, dagre's ordering and positioning take seconds too (5,000 tasks: 3–4 s). */
const SIMPLE_LAYOUT_ABOVE = 2000;
const NODE_GAP = 12;
const RANK_GAP = 48;

self.onmessage = (event: MessageEvent<LayoutRequest>) => {
  const { nodes, edges } = event.data;
  if (nodes.length > SIMPLE_LAYOUT_ABOVE) {
    self.postMessage(layeredLayout(event.data, NODE_GAP, RANK_GAP));
    return;
  }
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: NODE_GAP, ranksep: RANK_GAP, ranker: nodes.length > FAST_RANKING_ABOVE ? "longest-path" : "network-simplex" });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, { width: node.width, height: node.height });
  for (const [from, to] of edges) graph.setEdge(from, to);
  dagre.layout(graph);
  const result: LayoutResult = {
    nodes: nodes.map((n) => {
      const placed = graph.node(n.id);
      return { id: n.id, x: placed.x - n.width / 2, y: placed.y - n.height / 2, width: n.width, height: n.height };
    }),
    edges: edges.map(([from, to]) => ({ from, to, points: graph.edge(from, to).points ?? [] })),
    width: graph.graph().width ?? 0,
    height: graph.graph().height ?? 0,
  };
  self.postMessage(result);
};
