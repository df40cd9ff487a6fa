/**
 * Running a try's preambles (see task-environment.ts): each is `eval`ed in turn in one bash, so what a
 * preamble sets or sources (`source hadoop-env.sh`) stays for what follows. For a bash task the
 * command follows in the same shell; for a function task the shell prints its environment, which is
 * set for the try. A preamble's output goes to the try's log (on stderr, so a bash task's last line of
 * stdout is still the command's). The shell reports on file descriptor 3 which preamble it is in, so a
 * failure, or an `exit`, is told apart from the command's and named by its scope.
 */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { Preamble } from "./task-environment.js";

/** Variables bash sets for itself; a preamble did not set them. */
const SHELL_OWN = new Set(["_", "SHLVL", "PWD", "OLDPWD"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The bash script that runs `preambles` in order, then `then` (a command, in the same shell). */
export function preambleScript(preambles: readonly Preamble[], then: string): string {
  const steps = preambles.map(
    (p, index) =>
      `printf 'start ${index}\\n' >&3\n` +
      `{ eval ${shellQuote(p.script)}; } >&2\n` +
      `__aloft_status=$?; if [ "$__aloft_status" -ne 0 ]; then exit "$__aloft_status"; fi\n` +
      `printf 'done ${index}\\n' >&3\n`,
  );
  return `${steps.join("")}exec 3>&-\nunset __aloft_status\n${then}`;
}

/** Follows the shell's reports on fd 3: which preamble, if any, the shell ended in. */
export class PreambleTracker {
  private reports = "";

  constructor(private readonly preambles: readonly Preamble[]) {}

  follow(stream: Readable): void {
    stream.setEncoding("utf8").on("data", (text: string) => (this.reports += text));
  }

  /** Why the try fails when the shell ended inside a preamble (exit `code` or `signal`); null when it got past them all. */
  failure(code: number | null, signal: NodeJS.Signals | null): string | null {
    const last = this.reports.trim().split("\n").at(-1) ?? "";
    const started = /^start (\d+)$/.exec(last);
    if (!started) return null;
    const preamble = this.preambles[Number(started[1])]!;
    const how = signal ? `was killed by ${signal}` : code === 0 ? "ended the shell (exit 0) before the task ran" : `failed with exit code ${code}`;
    return `the ${preamble.scope} preamble ${how}`;
  }
}

export type PreambleResult = { ok: true; changes: Record<string, string | undefined> } | { ok: false; error: string };

/**
 * Runs the preambles of a function task in bash with `env`; returns the variables they changed
 * (undefined: unset), to set for the try, or why they failed. Their output goes to `write`.
 */
export function runPreambles(preambles: readonly Preamble[], env: NodeJS.ProcessEnv, write: (text: string) => void): Promise<PreambleResult> {
  // Exported names and values, NUL-separated: bash builtins only, so no particular `env` is needed.
  const printEnv = `while IFS= read -r __aloft_name; do printf '%s=%s\\0' "$__aloft_name" "\${!__aloft_name}"; done < <(compgen -e)`;
  const tracker = new PreambleTracker(preambles);
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", preambleScript(preambles, printEnv)], { env, stdio: ["ignore", "pipe", "pipe", "pipe"] });
    let printed = "";
    child.stdout!.setEncoding("utf8").on("data", (text: string) => (printed += text));
    child.stderr!.setEncoding("utf8").on("data", write);
    tracker.follow(child.stdio[3] as Readable);
    child.on("error", (error) => resolve({ ok: false, error: `could not start bash for the preambles: ${error.message}` }));
    child.on("close", (code, signal) => {
      const failure = tracker.failure(code, signal);
      if (failure) return resolve({ ok: false, error: failure });
      if (code !== 0) return resolve({ ok: false, error: `printing the environment after the preambles failed (bash exit code ${code ?? signal})` });
      resolve({ ok: true, changes: environmentChanges(env, printed) });
    });
  });
}

/** The variables whose value in `printed` (NAME=value, NUL-separated) differs from `before`; undefined: unset. */
function environmentChanges(before: NodeJS.ProcessEnv, printed: string): Record<string, string | undefined> {
  const after = new Map<string, string>();
  for (const entry of printed.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) after.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  const changes: Record<string, string | undefined> = {};
  for (const [name, value] of after) if (!SHELL_OWN.has(name) && before[name] !== value) changes[name] = value;
  // bash does not list variables whose names it cannot hold, so only valid names count as unset.
  for (const name of Object.keys(before)) if (NAME.test(name) && !SHELL_OWN.has(name) && !after.has(name)) changes[name] = undefined;
  return changes;
}
