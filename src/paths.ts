/** Where Aloft's own files are, whether it runs from dist/ (installed) or src/ (under tsx in tests). */
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A compiled module of Aloft, for child processes and for DAG files' `import "aloft"`. */
export function distModule(relative: string): string {
  return path.join(PACKAGE_ROOT, "dist", relative);
}
