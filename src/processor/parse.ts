/**
 * Parses a DAG folder in a child process with a time limit per file, so that a DAG file that throws,
 * loops forever or exits cannot take the scheduler down. A file that hangs or kills the child becomes
 * an import error and the remaining files are parsed in a new child.
 */
import { watchedChildEnv } from "../util/orphan-watchdog.js";
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";
import { prepareModuleFolder } from "../bundle/module-cache.js";
import { distModule } from "../paths.js";
import type { FromParser, ParseJob, ParsedFile } from "./protocol.js";

const DAG_FILE = /\.(m?ts|m?js)$/;

/** DAG files under a folder, sorted; skips node_modules, hidden entries and `.d.ts` files. */
export function listDagFiles(folder: string): string[] {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new UsageError(`DAGs folder ${folder} does not exist: pass --dags DIR or set ALOFT_DAGS_FOLDER`);
  }
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (DAG_FILE.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
    }
  };
  walk(path.resolve(folder));
  return out.sort();
}

export interface ParseOptions {
  /** Where compiled modules are written (made a module folder that resolves "aloft"). */
  outDir: string;
  /** The bundle folder the files are in: filelocs are relative to it. */
  root: string;
  /** Longest one file may take to compile and import. */
  timeoutMs: number;
}

export async function parseDagFiles(files: string[], options: ParseOptions): Promise<ParsedFile[]> {
  prepareModuleFolder(options.outDir);
  const results: ParsedFile[] = [];
  let remaining = [...files];
  while (remaining.length > 0) {
    const done = await parseInChild(remaining, options);
    results.push(...done);
    remaining = remaining.slice(done.length);
  }
  return results;
}

/** Parses files in order in one child until it finishes, hangs or dies; returns results for a prefix of `files`. */
function parseInChild(files: string[], options: ParseOptions): Promise<ParsedFile[]> {
  return new Promise((resolve) => {
    const results: ParsedFile[] = [];
    const child = fork(distModule("processor/parse-child.js"), [], {
      execArgv: ["--enable-source-maps"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: watchedChildEnv(),
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let current: string | undefined;
    let failure: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        failure = `import timed out after ${options.timeoutMs} ms (does the file loop forever or wait on something at import?)`;
        child.kill("SIGKILL");
      }, options.timeoutMs);
    };
    child.on("message", (message: FromParser) => {
      if (message.type === "started") {
        current = message.file;
        arm();
      } else if (message.type === "parsed") {
        results.push(message.result);
        current = undefined;
        if (timer) clearTimeout(timer);
      }
    });
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      const file = current ?? files[results.length];
      if (results.length < files.length && file) {
        const why =
          failure ??
          `the file ended the parsing process (${signal ? `signal ${signal}` : `exit code ${code}`}) while being imported` +
            (stderr.trim() ? `: ${stderr.trim().split("\n").slice(-3).join(" ")}` : "");
        results.push({ file, ok: false, error: why });
      }
      resolve(results);
    });
    const job: ParseJob = { files, outDir: options.outDir, root: options.root };
    child.send(job);
  });
}
