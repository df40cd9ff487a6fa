/**
 * `npm run chaos [-- OPTIONS]`: the randomized chaos run of the HA controller (see chaos.ts).
 *
 *   --minutes N        how long faults are injected (default 5); then the workload drains
 *   --seed S           the seed of the fault sequence and gaps (default: random, printed)
 *   --dialect D        postgres (default) or mysql
 *   --private-db       run a private DB server of its own (adds the db-restart fault)
 *   --no-build         do not compile src/ first (bin/aloft.js runs dist/)
 *
 * The server comes from ALOFT_TEST_POSTGRES_URL / ALOFT_TEST_MYSQL_URL (defaults
 * postgres://postgres@127.0.0.1:5432/postgres, mysql://root@127.0.0.1:3306/test); the run creates a
 * database of its own there and drops it at the end. Exits 1 when an invariant was violated.
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { ROOT } from "../helpers/aloft.js";
import { formatSummary, randomSeed, runChaos } from "./chaos.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    seed: { type: "string" },
    dialect: { type: "string", default: "postgres" },
    "private-db": { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});

function usage(message?: string): never {
  if (message) process.stderr.write(`chaos: ${message}\n`);
  process.stderr.write("usage: npm run chaos -- [--minutes N] [--seed S] [--dialect postgres|mysql] [--private-db] [--no-build]\n");
  process.exit(message ? 2 : 0);
}

if (values.help) usage();
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) usage(`--minutes ${values.minutes} is not a positive number`);
const dialect = values.dialect === "mysql" || values.dialect === "mariadb" ? "mysql" : values.dialect === "postgres" ? "postgres" : usage(`--dialect ${values.dialect}: use postgres or mysql`);
const seed = values.seed === undefined ? randomSeed() : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) usage(`--seed ${values.seed} is not an integer from 0 to 4294967295`);

if (!values["no-build"]) {
  process.stdout.write("building (tsc -p tsconfig.build.json)…\n");
  const build = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) {
    process.stderr.write("chaos: the build failed\n");
    process.exit(2);
  }
}

process.stdout.write(`seed ${seed} (replay with --seed ${seed})\n`);
try {
  const summary = await runChaos({ minutes, seed, dialect, privateDb: values["private-db"] });
  process.stdout.write(`${formatSummary(summary)}\n`);
  process.exit(summary.violations.length > 0 ? 1 : 0);
} catch (error) {
  process.stderr.write(`chaos: the run could not complete: ${(error as Error).stack ?? error}\n`);
  process.exit(2);
}
