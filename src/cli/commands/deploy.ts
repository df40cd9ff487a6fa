/** `aloft deploy`, `aloft dags versions` and `aloft dags prune-versions`: DAG bundles in the metadata DB. */
import path from "node:path";
import type { Command } from "commander";
import { deployBundle, type DeployReport } from "../../bundle/deploy.js";
import { listDagVersions, pruneDagVersions } from "../../bundle/versions.js";
import { listDagFiles } from "../../processor/parse.js";
import { requireDag } from "../../scheduler/runs.js";
import { iso, printRows, withStore, type GlobalFlags, withGlobalFlags } from "../context.js";

type JsonFlag = GlobalFlags & { json?: boolean };

export function registerDeployCommand(program: Command): void {
  withGlobalFlags(
    program
      .command("deploy")
      .description("compile a DAG folder into a versioned bundle stored in the metadata DB; every scheduler and worker runs from it")
      .argument("[dir]", "the DAG folder (default: config dags_folder, env ALOFT_DAGS_FOLDER)")
      .option("--message <text>", "a note stored with the bundle, shown by 'aloft dags versions'")
      .option("--json", "print JSON"),
  ).action((dir: string | undefined, flags: JsonFlag & { message?: string }) =>
    withStore(flags, async (store, config) => {
      const folder = path.resolve(dir ?? config.dagsFolder);
      listDagFiles(folder); // a missing folder is a usage error
      const report = await deployBundle(store, folder, {
        home: config.home,
        parseTimeoutMs: config.parseTimeoutMs,
        pausedAtCreation: config.pausedAtCreation,
        ...(flags.message !== undefined ? { message: flags.message } : {}),
      });
      process.stdout.write(flags.json ? `${JSON.stringify(deployJson(report))}\n` : deployText(report));
      // The DAGs that imported are deployed either way; the exit code says a file did not.
      if (report.importErrors.length > 0) process.exitCode = 1;
    }),
  );
}

export function registerDagVersionCommands(dags: Command): void {
  withGlobalFlags(
    dags.command("versions").description("list the versions of a DAG, newest first").argument("<dag_id>").option("--json", "print JSON"),
  ).action((dagId: string, flags: JsonFlag) =>
    withStore(flags, async (store) => {
      await requireDag(store.db, dagId);
      const rows = await listDagVersions(store, dagId);
      printRows(
        rows.map((r) => ({
          version: r.version_number,
          current: flags.json ? r.current : r.current ? "*" : "",
          dag_version_id: r.dag_version_id,
          bundle_id: r.bundle_id,
          bundle_hash: flags.json ? r.bundle_hash : r.bundle_hash?.slice(0, 12),
          created_at: iso(r.created_at),
          runs: r.runs,
          fileloc: r.fileloc,
          message: r.message,
        })),
        Boolean(flags.json),
        ["version", "current", "bundle_id", "bundle_hash", "created_at", "runs", "fileloc", "message"],
      );
    }),
  );

  withGlobalFlags(
    dags
      .command("prune-versions")
      .description("delete DAG versions no run needs (not current, no unfinished run), and the modules and bundles only they used")
      .option("--dry-run", "only print what would be deleted")
      .option("--json", "print JSON"),
  ).action((flags: JsonFlag & { dryRun?: boolean }) =>
    withStore(flags, async (store) => {
      const report = await pruneDagVersions(store, { dryRun: Boolean(flags.dryRun) });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ dry_run: report.dryRun, versions: report.versions, modules: report.modules, bundles: report.bundles })}\n`);
        return;
      }
      const verb = report.dryRun ? "would delete" : "deleted";
      const bytes = report.modules.reduce((sum, m) => sum + m.bytes, 0);
      const lines = [
        `${verb} ${report.versions.length} DAG version(s), ${report.modules.length} module(s) (${bytes} bytes), ${report.bundles.length} bundle(s)`,
        ...report.versions.map((v) => `  ${v.dag_id} version ${v.version_number}`),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    }),
  );
}

function deployJson(report: DeployReport) {
  return {
    bundle_id: report.bundle?.id ?? null,
    bundle_hash: report.bundle?.hash ?? null,
    new_version: report.created,
    added: report.added,
    changed: report.changed,
    removed: report.removed,
    unchanged: report.unchanged,
    import_errors: report.importErrors,
  };
}

function deployText(report: DeployReport): string {
  const bundle = report.bundle ? `bundle ${report.bundle.id} (${report.bundle.hash.slice(0, 12)})` : "no bundle";
  const lines = [report.created ? `deployed ${report.folder} as ${bundle}` : `no change: ${bundle} is current; no new version`];
  const list = (label: string, ids: string[]) => {
    if (ids.length > 0) lines.push(`${label}: ${ids.join(", ")}`);
  };
  list("added", report.added);
  list("changed", report.changed);
  list("removed", report.removed);
  lines.push(`unchanged: ${report.unchanged.length} DAG(s)`);
  if (report.importErrors.length > 0) {
    lines.push("import errors:");
    for (const e of report.importErrors) lines.push(`  ${e.file}: ${e.message}`);
    lines.push(`${report.importErrors.length} file(s) failed to import and keep their DAGs' last good version; the other DAGs were deployed.`);
  }
  return `${lines.join("\n")}\n`;
}
