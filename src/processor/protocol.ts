/** Messages between the DAG processor and its parsing child. */
import type { SerializedDag } from "../dag/types.js";

export interface ParseJob {
  files: string[];
  /** Where compiled modules are written (a module folder that resolves "aloft"). */
  outDir: string;
  /** The bundle folder: DAG files' fileloc and the modules' paths are relative to it. */
  root: string;
}

export type ParsedFile =
  | { file: string; ok: true; dags: SerializedDag[]; modulePath: string; moduleHash: string }
  | { file: string; ok: false; error: string };

export type FromParser = { type: "started"; file: string } | { type: "parsed"; result: ParsedFile } | { type: "finished" };
