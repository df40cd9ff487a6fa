/**
 * Lays out a DAG's graph off the page's thread (dagre: layered, left to right), so a large DAG's
 * grid stays usable while its graph is placed. Large graphs use the faster longest-path ranking.
 */
import dagre from "@dagrejs/dagre";
import type { LayoutRequest, LayoutResult } from "./layout-types.js";

/** Above this many tasks, network-simplex ranking costs seconds; longest-path is several times faster. */
const FAST_RANKING_ABOVE = 1000;

self.onmessage = (event: MessageEvent<LayoutRequest>) => {
  const { nodes, edges } = event.data;
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 12, ranksep: 48, ranker: nodes.length > FAST_RANKING_ABOVE ? "longest-path" : "network-simplex" });
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
