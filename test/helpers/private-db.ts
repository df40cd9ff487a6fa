/**
 * A private PostgreSQL or MariaDB server on a free port in a temporary folder, for tests that stop
 * and restart the database (the shared test servers must never be restarted: other suites use them).
 * The server runs as the `postgres` / `mysql` system user when the test runs as root.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { sql } from "../../src/store/kysely.js";
import { openStore } from "../../src/store/db.js";
import { freePort, isAlive, tempDir, waitFor } from "./aloft.js";

const isRoot = process.getuid?.() === 0;

function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, "bin/initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], "bin") : undefined;
}

function mariadbBins(): { install: string; server: string } | undefined {
  const install = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"].find((f) => fs.existsSync(f));
  const server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"].find((f) => fs.existsSync(f));
  return install && server ? { install, server } : undefined;
}

function systemUserExists(name: string): boolean {
  try {
    execFileSync("id", [name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why a private server of this dialect cannot be started here, or undefined when it can. */
export function privateServerUnavailable(dialect: "postgres" | "mysql"): string | undefined {
  if (dialect === "postgres") {
    if (!postgresBin()) return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed";
    if (isRoot && !systemUserExists("postgres")) return "running as root and there is no postgres user to run a private PostgreSQL as";
    return undefined;
  }
  if (!mariadbBins()) return "MariaDB server binaries (mariadb-install-db, mariadbd) are not installed";
  if (isRoot && !systemUserExists("mysql")) return "running as root and there is no mysql user to run a private MariaDB as";
  return undefined;
}

function asUser(user: string, command: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", user, "--", command, ...args]] : [command, args];
}

export class PrivateServer {
  readonly dir = tempDir("private-db");
  port = 0;
  private mariadb?: ChildProcess;
  private database = `aloft_ha_${crypto.randomBytes(4).toString("hex")}`;

  constructor(readonly dialect: "postgres" | "mysql") {
    fs.chmodSync(this.dir, 0o755);
  }

  /** The server's URL for the test database. */
  get url(): string {
    return this.dialect === "postgres"
      ? `postgres://postgres@127.0.0.1:${this.port}/${this.database}`
      : `mysql://root@127.0.0.1:${this.port}/${this.database}`;
  }

  private get adminUrl(): string {
    return this.dialect === "postgres" ? `postgres://postgres@127.0.0.1:${this.port}/postgres` : `mysql://root@127.0.0.1:${this.port}/mysql`;
  }

  private get home(): string {
    return path.join(this.dir, this.dialect === "postgres" ? "pg" : "my");
  }

  /** Creates the data folder, starts the server and creates the test database. */
  async init(): Promise<void> {
    this.port = await freePort();
    fs.mkdirSync(this.home);
    const user = this.dialect === "postgres" ? "postgres" : "mysql";
    if (isRoot) execFileSync("chown", [user, this.home]);
    if (this.dialect === "postgres") {
      const [cmd, args] = asUser("postgres", path.join(postgresBin()!, "initdb"), ["-D", path.join(this.home, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
      execFileSync(cmd, args, { stdio: "pipe" });
      fs.mkdirSync(path.join(this.home, "sock"));
      if (isRoot) execFileSync("chown", ["postgres", path.join(this.home, "sock")]);
    } else {
      const { install } = mariadbBins()!;
      execFileSync(
        install,
        ["--no-defaults", `--datadir=${path.join(this.home, "data")}`, ...(isRoot ? ["--user=mysql"] : []), "--auth-root-authentication-method=normal", "--skip-test-db"],
        { stdio: "pipe" },
      );
    }
    await this.start();
    const admin = await openStore(this.adminUrl, { poolSize: 1 });
    await sql`create database ${sql.id(this.database)}`.execute(admin.db);
    await admin.close();
  }

  async start(): Promise<void> {
    if (this.dialect === "postgres") {
      const options = `-p ${this.port} -k ${path.join(this.home, "sock")} -c listen_addresses=127.0.0.1 -c fsync=off`;
      const [cmd, args] = asUser("postgres", path.join(postgresBin()!, "pg_ctl"), ["-D", path.join(this.home, "data"), "-o", options, "-l", path.join(this.home, "log"), "-w", "start"]);
      execFileSync(cmd, args, { stdio: "pipe" });
    } else {
      const { server } = mariadbBins()!;
      this.mariadb = spawn(
        server,
        [
          "--no-defaults",
          `--datadir=${path.join(this.home, "data")}`,
          `--port=${this.port}`,
          "--bind-address=127.0.0.1",
          `--socket=${path.join(this.home, "sock")}`,
          `--pid-file=${path.join(this.home, "pid")}`,
          "--innodb-flush-log-at-trx-commit=0",
          "--skip-log-bin",
          ...(isRoot ? ["--user=mysql"] : []),
        ],
        { stdio: ["ignore", "ignore", fs.openSync(path.join(this.dir, "mariadb.err"), "a")] },
      );
    }
    await waitFor(
      `the private ${this.dialect} server to take connections`,
      async () => {
        try {
          const store = await openStore(this.adminUrl, { poolSize: 1 });
          await sql`select 1`.execute(store.db);
          await store.close();
          return true;
        } catch {
          return undefined;
        }
      },
      60_000,
      200,
    );
  }

  /** Stops the server (fast: open connections are cut, as in a crash or a failover of the DB host). */
  async stop(): Promise<void> {
    if (this.dialect === "postgres") {
      const data = path.join(this.home, "data");
      if (!fs.existsSync(path.join(data, "postmaster.pid"))) return;
      const [cmd, args] = asUser("postgres", path.join(postgresBin()!, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]);
      execFileSync(cmd, args, { stdio: "pipe" });
    } else {
      const child = this.mariadb;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Stops the server, waits `downMs`, starts it again. */
  async restart(downMs: number): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  async destroy(): Promise<void> {
    try {
      if (this.dialect === "postgres") {
        const data = path.join(this.home, "data");
        if (fs.existsSync(path.join(data, "postmaster.pid"))) {
          const [cmd, args] = asUser("postgres", path.join(postgresBin()!, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
          execFileSync(cmd, args, { stdio: "pipe" });
        }
      } else if (this.mariadb?.pid && isAlive(this.mariadb.pid)) {
        this.mariadb.kill("SIGKILL");
      }
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
