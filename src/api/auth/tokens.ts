/**
 * Signed tokens, for bearer tokens (`POST /auth/token`) and the UI's session cookie alike. An API
 * server keeps no session state, so any instance behind a load balancer accepts a token another
 * issued, provided they share `secret_key`. A token names its user and the user's `changed_at` when it
 * was issued: a password, role or active change of that user ends every token issued before.
 */
import crypto from "node:crypto";

export interface TokenClaims {
  /** The username. */
  sub: string;
  /** The user's changed_at when the token was issued. */
  ver: number;
  /** Issued at and expires at, epoch ms. */
  iat: number;
  exp: number;
}

export class TokenSigner {
  private readonly key: Buffer;

  constructor(secretKeyMaterial: string) {
    // A key of its own, so that a token can never be confused with another use of secret_key.
    this.key = Buffer.from(crypto.hkdfSync("sha256", secretKeyMaterial, "aloft", "api tokens v1", 32));
  }

  sign(claims: TokenClaims): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  /** The claims of a well-signed, unexpired token; null for anything else. */
  verify(token: string, now = Date.now()): TokenClaims | null {
    const dot = token.indexOf(".");
    if (dot <= 0) return null;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = Buffer.from(this.mac(payload), "base64url");
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      return null;
    }
    if (typeof claims.sub !== "string" || typeof claims.exp !== "number" || claims.exp <= now) return null;
    return claims;
  }

  /** The CSRF token that goes with a session cookie: only a page that could read the cookie knows it. */
  csrfFor(sessionToken: string): string {
    return crypto.createHmac("sha256", this.key).update(`csrf:${sessionToken}`).digest("base64url");
  }

  private mac(payload: string): string {
    return crypto.createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}
