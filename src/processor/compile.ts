/**
 * Compiles a DAG file (TypeScript or JavaScript) and what it imports into one ES module with esbuild.
 * `import … from "aloft"` stays a bare import that the module folder resolves to the running Aloft
 * (see bundle/module-cache.ts), so a DAG folder needs no node_modules of its own and the module holds
 * no path of the machine that compiled it: paths in it (source map, comments) are relative to the
 * bundle root. The output is named by its content hash: runners import a version once and keep it.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";

export interface CompiledDagFile {
  modulePath: string;
  hash: string;
}

/** Compiles `file` (inside the bundle folder `root`) into `outDir`/HASH.mjs. */
export async function compileDagFile(file: string, outDir: string, root: string): Promise<CompiledDagFile> {
  const result = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    // Relative to the bundle root, so that the same folder compiles to the same module on any machine.
    absWorkingDir: root,
    outdir: root,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "silent",
    external: ["aloft"],
  });
  const code = result.outputFiles[0]!.contents;
  const hash = crypto.createHash("sha256").update(code).digest("hex");
  const modulePath = path.join(outDir, `${hash}.mjs`);
  if (!fs.existsSync(modulePath)) writeFileAtomically(modulePath, code);
  return { modulePath, hash };
}

/** A file's path inside the bundle folder, with forward slashes (the same on every OS). */
export function bundlePath(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join("/");
}

/** Writes a file under a temporary name and renames it, so that no reader sees it half written. */
export function writeFileAtomically(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/** esbuild's errors as one readable text: file:line:column: message. */
export function describeBuildError(error: unknown): string {
  const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> })
    .errors;
  if (!errors || errors.length === 0) return error instanceof Error ? error.message : String(error);
  return errors
    .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
    .join("; ");
}
