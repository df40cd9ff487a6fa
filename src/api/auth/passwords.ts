/**
 * Password hashes: scrypt (memory-hard, in Node's crypto), with a random salt, stored with their
 * parameters so that they can be raised later without breaking stored hashes. Checking one costs
 * ~50 ms of CPU here, which is what makes a stolen user table slow to attack.
 */
import crypto from "node:crypto";
import { promisify } from "node:util";

const scrypt = promisify(crypto.scrypt) as (password: string, salt: Buffer, keylen: number, options: crypto.ScryptOptions) => Promise<Buffer>;

const PARAMS = { N: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;
/** scrypt's memory is 128 · N · r bytes (32 MiB here); Node's default cap is exactly that, so raise it a little. */
const MAX_MEM = 64 * 1024 * 1024;
export const MIN_PASSWORD_LENGTH = 8;

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, KEY_BYTES, { ...PARAMS, maxmem: MAX_MEM });
  return ["scrypt", PARAMS.N, PARAMS.r, PARAMS.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = stored.split("$");
  if (kind !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64url");
  const actual = await scrypt(password, Buffer.from(salt, "base64url"), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: MAX_MEM });
  return crypto.timingSafeEqual(actual, expected);
}

/** A password for a generated account (the first admin of standalone): 20 characters, ~120 bits. */
export function generatePassword(): string {
  return crypto.randomBytes(15).toString("base64url");
}
