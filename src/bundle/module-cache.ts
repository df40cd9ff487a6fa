/**
 * Compiled DAG modules on this machine's disk, fetched from the metadata DB when missing: any node
 * with the DB can run any deployed module, with no shared filesystem. Modules are named by their
 * content hash, so a file once written never changes; the folder resolves a module's bare
 * `import "aloft"` to the running Aloft through a `node_modules/aloft` link.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomically } from "../processor/compile.js";
import { PACKAGE_ROOT } from "../paths.js";
import type { Store } from "../store/db.js";

/** Where a home's compiled modules are kept. */
export function moduleCacheFolder(home: string): string {
  return path.join(home, "bundle-modules");
}

/**
 * Makes `folder` a place modules can run from: creates it and points its `node_modules/aloft` at the
 * running Aloft package (replaced when it points elsewhere, as after an upgrade). Safe to call from
 * several processes at once.
 */
export function prepareModuleFolder(folder: string): void {
  const link = path.join(folder, "node_modules", "aloft");
  let current: string | undefined;
  try {
    current = fs.readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current === PACKAGE_ROOT) return;
  fs.mkdirSync(path.dirname(link), { recursive: true });
  const tmp = `${link}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.symlinkSync(PACKAGE_ROOT, tmp, "dir");
  fs.renameSync(tmp, link);
}

export class ModuleCache {
  readonly folder: string;
  private readonly fetching = new Map<string, Promise<string>>();

  constructor(
    private readonly store: Store,
    home: string,
  ) {
    this.folder = moduleCacheFolder(home);
  }

  /** The local file of the module with this hash, fetched from the DB first when it is not on disk. */
  async localPath(hash: string): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`'${hash}' is not a module hash (64 hex digits)`);
    // Checked each time (one readlink): the folder may have been cleaned up under a running node.
    prepareModuleFolder(this.folder);
    const file = path.join(this.folder, `${hash}.mjs`);
    if (fs.existsSync(file)) return file;
    let pending = this.fetching.get(hash);
    if (!pending) {
      pending = this.fetch(hash, file).finally(() => this.fetching.delete(hash));
      this.fetching.set(hash, pending);
    }
    return pending;
  }

  private async fetch(hash: string, file: string): Promise<string> {
    const row = await this.store.db.selectFrom("bundle_module").select("code").where("hash", "=", hash).executeTakeFirst();
    if (!row) {
      throw new Error(`DAG module ${hash} is not in the metadata database (pruned, or deployed to another database?): deploy the DAGs again`);
    }
    const actual = crypto.createHash("sha256").update(row.code).digest("hex");
    if (actual !== hash) throw new Error(`DAG module ${hash} read from the metadata database has hash ${actual}: the stored code is damaged`);
    writeFileAtomically(file, row.code);
    return file;
  }
}
