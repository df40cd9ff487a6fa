/**
 * A laid-out graph drawn on a <canvas>: thousands of boxes cost one draw, not thousands of DOM
 * nodes. Drag pans, the wheel zooms around the pointer, a click picks the box under it. Only what is
 * in view is drawn; labels appear once boxes are large enough to read them.
 */
import { useEffect, useRef } from "preact/hooks";
import type { LayoutResult, PlacedNode } from "./layout-types.js";

export interface GraphCanvasProps {
  layout: LayoutResult;
  /** The fill of each box, by node id (absent: white). */
  fills: Map<string, string>;
  /** The label of each box, by node id (absent: its id). */
  labels?: Map<string, string>;
  selectedId: string | undefined;
  onSelect: (id: string) => void;
}

interface View {
  scale: number;
  x: number;
  y: number;
}

/** A pointer that moves less than this between press and release clicks. */
const CLICK_SLOP = 4;
const MIN_SCALE = 0.02;
const MAX_SCALE = 3;
/** Below this scale labels would be unreadable; boxes alone are drawn. */
const LABEL_SCALE = 0.45;

interface EdgeBox {
  points: { x: number; y: number }[];
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

function edgeBoxes(layout: LayoutResult): EdgeBox[] {
  return layout.edges.map(({ points }) => {
    const xs = points.map((p) => p.x);
    const ys = points.map((p) => p.y);
    return { points, minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs), maxY: Math.max(...ys) };
  });
}

/**
 * The whole graph in the canvas, no larger than its natural size; a graph too large for that to be
 * readable starts at its top left, at a size where labels show.
 */
function fitted(layout: LayoutResult, width: number, height: number): View {
  const margin = 20;
  const scale = Math.min(1, (width - margin * 2) / Math.max(1, layout.width), (height - margin * 2) / Math.max(1, layout.height));
  if (scale < LABEL_SCALE / 2) return { scale: 0.7, x: margin, y: margin };
  return { scale, x: (width - layout.width * scale) / 2, y: Math.max(margin, (height - layout.height * scale) / 2) };
}

export function GraphCanvas({ layout, fills, labels, selectedId, onSelect }: GraphCanvasProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const view = useRef<View | null>(null);
  const frame = useRef(0);
  const edges = useRef<EdgeBox[]>([]);
  // The latest props for the drawing and event code, which is set up once.
  const props = useRef({ layout, fills, labels, selectedId, onSelect });
  props.current = { layout, fills, labels, selectedId, onSelect };

  const draw = () => {
    const element = canvas.current;
    const v = view.current;
    if (!element || !v) return;
    const context = element.getContext("2d")!;
    const ratio = window.devicePixelRatio || 1;
    const { fills, labels, selectedId } = props.current;
    const nodes = props.current.layout.nodes;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, element.width, element.height);
    context.setTransform(ratio * v.scale, 0, 0, ratio * v.scale, ratio * v.x, ratio * v.y);
    // The part of the graph in view, in the layout's coordinates.
    const left = -v.x / v.scale;
    const top = -v.y / v.scale;
    const right = left + element.width / ratio / v.scale;
    const bottom = top + element.height / ratio / v.scale;

    context.beginPath();
    for (const edge of edges.current) {
      if (edge.maxX < left || edge.minX > right || edge.maxY < top || edge.minY > bottom) continue;
      edge.points.forEach((p, i) => (i === 0 ? context.moveTo(p.x, p.y) : context.lineTo(p.x, p.y)));
    }
    context.strokeStyle = "#94a3b8";
    context.lineWidth = 1 / Math.max(v.scale, 0.5);
    context.stroke();

    const showLabels = v.scale >= LABEL_SCALE;
    context.font = "12px system-ui, sans-serif";
    context.textBaseline = "middle";
    for (const node of nodes) {
      if (node.x + node.width < left || node.x > right || node.y + node.height < top || node.y > bottom) continue;
      context.fillStyle = fills.get(node.id) ?? "#fff";
      context.fillRect(node.x, node.y, node.width, node.height);
      const selected = node.id === selectedId;
      context.strokeStyle = selected ? "#1d4ed8" : "#64748b";
      context.lineWidth = selected ? 3 / Math.min(v.scale, 1) : 1 / Math.max(v.scale, 0.5);
      context.strokeRect(node.x, node.y, node.width, node.height);
      if (showLabels) {
        context.fillStyle = "#111827";
        context.save();
        context.beginPath();
        context.rect(node.x, node.y, node.width, node.height);
        context.clip();
        context.fillText(labels?.get(node.id) ?? node.id, node.x + 6, node.y + node.height / 2);
        context.restore();
      }
    }
  };

  const redraw = () => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(draw);
  };

  // Sizes the canvas to its box (sharp on high-density screens), fits the graph the first time.
  useEffect(() => {
    const element = canvas.current!;
    const resize = () => {
      const ratio = window.devicePixelRatio || 1;
      element.width = Math.max(1, Math.round(element.clientWidth * ratio));
      element.height = Math.max(1, Math.round(element.clientHeight * ratio));
      view.current ??= fitted(props.current.layout, element.clientWidth, element.clientHeight);
      redraw();
    };
    const observer = new ResizeObserver(resize);
    observer.observe(element);
    resize();
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame.current);
    };
  }, []);

  useEffect(() => {
    edges.current = edgeBoxes(layout);
    const element = canvas.current;
    if (element && element.clientWidth) view.current = fitted(layout, element.clientWidth, element.clientHeight);
    redraw();
  }, [layout]);

  useEffect(redraw, [fills, labels]);

  // A task selected elsewhere (the grid, the search box) is brought into view if it is out of it.
  useEffect(() => {
    const element = canvas.current;
    const v = view.current;
    const node = layout.nodes.find((n) => n.id === selectedId);
    if (element && v && node) {
      const x = node.x * v.scale + v.x;
      const y = node.y * v.scale + v.y;
      if (x < 0 || y < 0 || x + node.width * v.scale > element.clientWidth || y + node.height * v.scale > element.clientHeight) {
        const scale = Math.max(v.scale, LABEL_SCALE);
        view.current = { scale, x: element.clientWidth / 2 - (node.x + node.width / 2) * scale, y: element.clientHeight / 2 - (node.y + node.height / 2) * scale };
      }
    }
    redraw();
  }, [selectedId, layout]);

  // Pan, zoom and click.
  useEffect(() => {
    const element = canvas.current!;
    let press: { x: number; y: number; viewX: number; viewY: number; moved: boolean } | null = null;
    const down = (e: PointerEvent) => {
      if (!view.current) return;
      press = { x: e.clientX, y: e.clientY, viewX: view.current.x, viewY: view.current.y, moved: false };
      element.setPointerCapture(e.pointerId);
    };
    const move = (e: PointerEvent) => {
      if (!press || !view.current) return;
      const dx = e.clientX - press.x;
      const dy = e.clientY - press.y;
      if (!press.moved && Math.hypot(dx, dy) < CLICK_SLOP) return;
      press.moved = true;
      view.current = { ...view.current, x: press.viewX + dx, y: press.viewY + dy };
      element.style.cursor = "grabbing";
      redraw();
    };
    const up = (e: PointerEvent) => {
      const wasClick = press && !press.moved;
      press = null;
      element.style.cursor = "";
      if (!wasClick || !view.current) return;
      const bounds = element.getBoundingClientRect();
      const x = (e.clientX - bounds.left - view.current.x) / view.current.scale;
      const y = (e.clientY - bounds.top - view.current.y) / view.current.scale;
      const hit = props.current.layout.nodes.find((n: PlacedNode) => x >= n.x && x <= n.x + n.width && y >= n.y && y <= n.y + n.height);
      if (hit) props.current.onSelect(hit.id);
    };
    const wheel = (e: WheelEvent) => {
      if (!view.current) return;
      e.preventDefault();
      const bounds = element.getBoundingClientRect();
      const px = e.clientX - bounds.left;
      const py = e.clientY - bounds.top;
      const v = view.current;
      const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, v.scale * Math.exp(-e.deltaY * 0.0015)));
      // The point under the pointer stays under it.
      view.current = { scale, x: px - ((px - v.x) * scale) / v.scale, y: py - ((py - v.y) * scale) / v.scale };
      redraw();
    };
    element.addEventListener("pointerdown", down);
    element.addEventListener("pointermove", move);
    element.addEventListener("pointerup", up);
    element.addEventListener("wheel", wheel, { passive: false });
    return () => {
      element.removeEventListener("pointerdown", down);
      element.removeEventListener("pointermove", move);
      element.removeEventListener("pointerup", up);
      element.removeEventListener("wheel", wheel);
    };
  }, []);

  return <canvas ref={canvas} class="graph-canvas" data-testid="graph-canvas" />;
}

