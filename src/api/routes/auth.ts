/** Logging in: bearer tokens for scripts (POST /auth/token), a session cookie for the UI (POST /auth/login). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Store } from "../../store/db.js";
import { CSRF_COOKIE, SESSION_COOKIE } from "../auth/plugin.js";
import { clearLoginFailures, loginBlockedFor, recordLoginFailure } from "../auth/login-limit.js";
import type { TokenSigner } from "../auth/tokens.js";
import { checkPassword, type ApiUser } from "../auth/users.js";
import { ApiProblem } from "../problems.js";

const credentials = {
  type: "object",
  required: ["username", "password"],
  additionalProperties: false,
  properties: { username: { type: "string", minLength: 1, maxLength: 250 }, password: { type: "string", minLength: 1, maxLength: 1024 } },
} as const;

interface Credentials {
  username: string;
  password: string;
}

export function registerAuthRoutes(app: FastifyInstance, store: Store, signer: TokenSigner, tokenTtlMs: number): void {
  /** Checks the credentials, with the rate limit; the user, or a 401 / 429. */
  async function login(request: FastifyRequest<{ Body: Credentials }>): Promise<ApiUser> {
    const { username, password } = request.body;
    const waitMs = await loginBlockedFor(store, username, request.ip);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new ApiProblem(429, "Too Many Requests", `too many failed logins for '${username}' or from this address: try again in ${seconds} s`, { "retry-after": String(seconds) });
    }
    const user = await checkPassword(store, username, password);
    if (!user) {
      await recordLoginFailure(store, username, request.ip);
      throw new ApiProblem(401, "Unauthorized", "wrong username or password, or the user is deactivated");
    }
    await clearLoginFailures(store, username);
    return user;
  }

  const issue = (user: ApiUser) => {
    const now = Date.now();
    const expiresAt = now + tokenTtlMs;
    return { token: signer.sign({ sub: user.username, ver: user.changedAt, iat: now, exp: expiresAt }), expiresAt };
  };

  app.post<{ Body: Credentials }>("/auth/token", { config: { access: "public" }, schema: { body: credentials } }, async (request, reply) => {
    const { token, expiresAt } = issue(await login(request));
    return reply.code(201).send({ access_token: token, token_type: "bearer", expires_at: new Date(expiresAt).toISOString() });
  });

  app.post<{ Body: Credentials }>("/auth/login", { config: { access: "public" }, schema: { body: credentials } }, async (request, reply) => {
    const user = await login(request);
    const { token, expiresAt } = issue(user);
    const csrf = signer.csrfFor(token);
    const common = { path: "/", sameSite: "strict" as const, secure: request.protocol === "https", expires: new Date(expiresAt) };
    reply.setCookie(SESSION_COOKIE, token, { ...common, httpOnly: true });
    reply.setCookie(CSRF_COOKIE, csrf, { ...common, httpOnly: false });
    return { username: user.username, role: user.role, csrf_token: csrf, expires_at: new Date(expiresAt).toISOString() };
  });

  app.post("/auth/logout", { config: { access: "public" } }, async (_request, reply: FastifyReply) => {
    reply.clearCookie(SESSION_COOKIE, { path: "/" }).clearCookie(CSRF_COOKIE, { path: "/" });
    return reply.code(204).send();
  });

  app.get("/auth/me", { config: { access: "viewer" } }, async (request) => ({ username: request.user!.username, role: request.user!.role }));
}
