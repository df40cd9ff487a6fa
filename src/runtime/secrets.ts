/**
 * Encryption at rest of connection passwords and extras and of variable values: AES-256-GCM under a
 * key derived from config `secret_key`, or, when none is configured, from a random key generated once
 * into `$ALOFT_HOME/secret_key` (mode 0600) so that standalone and the CLI on the same home agree.
 * GCM authenticates: a value stored under another key fails to decrypt instead of yielding garbage.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";

const PREFIX = "v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Fixed: the key must come out the same on every node and every start. */
const KDF_SALT = "aloft-secret-key-v1";

/** A stored secret cannot be decrypted with the configured key (a configuration problem: the CLI prints it and exits 2). */
export class SecretKeyMismatchError extends UsageError {
  override name = "SecretKeyMismatchError";
}

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /**
   * A box for `secret_key`, or, when it is empty, for the key in `$ALOFT_HOME/secret_key` (created on
   * first use). The AES key is derived with scrypt, so a guessable passphrase is costly to brute-force.
   */
  static open(secretKey: string, home: string): SecretBox {
    return new SecretBox(crypto.scryptSync(secretKeyMaterial(secretKey, home), KDF_SALT, 32));
  }

  encrypt(plain: string): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  /** @param what names the value in the error, e.g. "connection my_db". */
  decrypt(stored: string, what: string): string {
    if (!stored.startsWith(PREFIX)) throw new SecretKeyMismatchError(`cannot decrypt ${what}: the stored value is not in Aloft's encrypted format`);
    const raw = Buffer.from(stored.slice(PREFIX.length), "base64");
    try {
      const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretKeyMismatchError(
        `cannot decrypt ${what}: the secret_key differs from the one it was stored with; ` +
          "set secret_key (ALOFT_SECRET_KEY) to the original key, or store the value again",
      );
    }
  }
}

/** `secret_key`, or when it is empty the key generated once into `$ALOFT_HOME/secret_key`. */
export function secretKeyMaterial(secretKey: string, home: string): string {
  return secretKey !== "" ? secretKey : readOrCreateKeyFile(path.join(home, "secret_key"));
}

function readOrCreateKeyFile(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    // "wx": when two processes start together, one creates the file and the other reads it.
    fs.writeFileSync(file, `${crypto.randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return fs.readFileSync(file, "utf8").trim();
}

/** Airflow's list of names whose values are masked (variables and connection extra keys). */
const SENSITIVE_NAMES = ["access_token", "api_key", "apikey", "authorization", "passphrase", "passwd", "password", "private_key", "secret", "token", "keyfile_dict", "service_account"];

/** Whether a variable or extra key names a secret (its value is then masked in logs and output). */
export function isSensitiveName(name: string): boolean {
  const lower = name.toLowerCase();
  return SENSITIVE_NAMES.some((s) => lower.includes(s));
}

export const MASK = "***";

/**
 * `value` with the value of every field whose name looks secret replaced by "***", in nested objects
 * and arrays too (as Airflow's redaction does): `{"auth": {"token": "x"}}` is as secret as `{"token": "x"}`.
 */
export function maskSensitiveValues(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSensitiveValues);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSensitiveName(k) ? MASK : maskSensitiveValues(v)]));
}

/** Replaces every occurrence of each secret in `text` by "***" (longest first, so overlaps mask fully). */
export function maskSecrets(text: string, secrets: Iterable<string>): string {
  const list = [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of list) out = out.split(secret).join(MASK);
  return out;
}
