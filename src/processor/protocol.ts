/** Messages between the DAG processor and its parsing child. */
import type { SerializedDag } from "../dag/types.js";

export interface ParseJob {
  files: string[];
  outDir: string;
}

export type ParsedFile =
  | { file: string; ok: true; dags: SerializedDag[]; modulePath: string }
  | { file: string; ok: false; error: string };

export type FromParser = { type: "started"; file: string } | { type: "parsed"; result: ParsedFile } | { type: "finished" };
