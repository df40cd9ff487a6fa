/**
 * The parsing child: compiles and imports DAG files one at a time and reports each as it goes, so
 * that the parent can kill it over a file that hangs and still keep what was parsed before.
 */
import { pathToFileURL } from "node:url";
import { takeRegisteredDags } from "../dag/registry.js";
import { dieWithParent } from "../util/orphan-watchdog.js";
import { bundlePath, compileDagFile, describeBuildError } from "./compile.js";
import type { FromParser, ParseJob, ParsedFile } from "./protocol.js";

function send(message: FromParser): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

process.on("disconnect", () => process.exit(0));
dieWithParent({ wholeGroup: false });

process.once("message", async (job: ParseJob) => {
  for (const file of job.files) {
    await send({ type: "started", file });
    await send({ type: "parsed", result: await parseFile(file, job.outDir, job.root) });
  }
  await send({ type: "finished" });
  process.exit(0);
});

async function parseFile(file: string, outDir: string, root: string): Promise<ParsedFile> {
  let compiled;
  const relative = bundlePath(root, file);
  try {
    compiled = await compileDagFile(file, outDir, root);
  } catch (error) {
    return { file, ok: false, error: `cannot compile: ${describeBuildError(error)}` };
  }
  takeRegisteredDags();
  try {
    await import(pathToFileURL(compiled.modulePath).href);
    const dags = takeRegisteredDags().map((d) => d.serialize(relative));
    return { file, ok: true, dags, modulePath: compiled.modulePath, moduleHash: compiled.hash };
  } catch (error) {
    takeRegisteredDags();
    const message = error instanceof Error ? `${error.name}: ${error.message}${whereInFile(error, relative)}` : String(error);
    return { file, ok: false, error: message };
  }
}

/**
 * " (at file:line:column)" for the first stack frame inside the DAG file, when there is one. The
 * module's source map names files relative to the bundle root, which Node resolves next to the module.
 */
function whereInFile(error: Error, relative: string): string {
  const frame = error.stack?.split("\n").find((line) => line.includes(`/${relative}:`));
  const position = frame?.match(new RegExp(`/${escapeRegExp(relative)}:(\\d+:\\d+)`))?.[1];
  return position ? ` (at ${relative}:${position})` : "";
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

