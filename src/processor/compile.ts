/**
 * Compiles a DAG file (TypeScript or JavaScript) and what it imports into one ES module with esbuild.
 * `import … from "aloft"` is pointed at the running Aloft, so a DAG folder needs no node_modules of
 * its own. The output is named by its content hash: runners import a version once and keep it.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { distModule } from "../paths.js";

export interface CompiledDagFile {
  modulePath: string;
  hash: string;
}

const aloftResolver: Plugin = {
  name: "aloft-resolver",
  setup(b) {
    b.onResolve({ filter: /^aloft$/ }, () => ({ path: pathToFileURL(distModule("index.js")).href, external: true }));
  },
};

export async function compileDagFile(file: string, outDir: string): Promise<CompiledDagFile> {
  const result = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    // Output lands in outDir, so the source map's relative paths lead back to the DAG file.
    outdir: outDir,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "silent",
    plugins: [aloftResolver],
  });
  const code = result.outputFiles[0]!.contents;
  const hash = crypto.createHash("sha256").update(code).digest("hex");
  fs.mkdirSync(outDir, { recursive: true });
  const modulePath = path.join(outDir, `${hash}.mjs`);
  if (!fs.existsSync(modulePath)) {
    const tmp = `${modulePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, modulePath);
  }
  return { modulePath, hash };
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
