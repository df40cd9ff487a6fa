/** Parses and masks metadata database URLs (`sqlite:///path`, `postgres://…`, `mysql://…`). */
import path from "node:path";
import { UsageError } from "../errors.js";

export type DialectName = "sqlite" | "postgres" | "mysql";

export interface DatabaseTarget {
  dialect: DialectName;
  /** The URL as given (may hold a password: never log it, use `maskDatabaseUrl`). */
  url: string;
  /** SQLite only: the file path, or ":memory:". */
  file?: string;
}

const SCHEMES: Record<string, DialectName> = {
  "sqlite:": "sqlite",
  "postgres:": "postgres",
  "postgresql:": "postgres",
  "mysql:": "mysql",
  "mariadb:": "mysql",
};

export function parseDatabaseUrl(url: string): DatabaseTarget {
  const scheme = /^[a-z]+:/i.exec(url)?.[0]?.toLowerCase();
  const dialect = scheme ? SCHEMES[scheme] : undefined;
  if (!dialect) {
    throw new UsageError(
      `database URL '${maskDatabaseUrl(url)}' has an unknown scheme: use sqlite:///path/to/aloft.db, ` +
        "postgres://user:pass@host:5432/db or mysql://user:pass@host:3306/db",
    );
  }
  if (dialect !== "sqlite") return { dialect, url };
  // sqlite:///abs/path, sqlite://relative/path, sqlite::memory:
  const rest = url.slice("sqlite:".length);
  if (rest === ":memory:" || rest === "//:memory:") return { dialect, url, file: ":memory:" };
  const file = rest.startsWith("//") ? rest.slice(2) : rest;
  if (!file) throw new UsageError(`database URL '${url}' names no file: use sqlite:///path/to/aloft.db`);
  return { dialect, url, file: path.resolve(file) };
}

/** The URL with its password replaced by ***, safe for logs and `config show`. */
export function maskDatabaseUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)([^@]*)@/i, "$1***@");
}
