#!/usr/bin/env node
/**
 * Builds the web UI (src/ui) into dist/ui with esbuild: the app, the graph layout worker, the page
 * and the style sheet. Runs in `npm run build` (so during `npm install`) and before the tests.
 */
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "src", "ui");
const out = path.join(root, "dist", "ui");

export async function buildUi() {
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: { app: path.join(source, "main.tsx"), "layout-worker": path.join(source, "graph", "layout-worker.ts") },
    outdir: out,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: "esm",
    target: ["chrome110", "firefox110", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    logLevel: "warning",
  });
  for (const file of ["index.html", "styles.css"]) fs.copyFileSync(path.join(source, file), path.join(out, file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildUi();
  console.log(`web UI built into ${path.relative(root, out)}`);
}
