/** Messages between the graph view and its layout worker. */
export interface LayoutRequest {
  nodes: { id: string; width: number; height: number }[];
  edges: [from: string, to: string][];
}

export interface PlacedNode {
  id: string;
  /** Top-left corner. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LayoutResult {
  nodes: PlacedNode[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}
