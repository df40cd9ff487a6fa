/**
 * Authentication and authorization of every API request. Each route declares who may call it
 * (`config.access`: public, or the least role, see roles.ts); a route that declares nothing cannot
 * be registered, so no endpoint is left open by mistake.
 *
 * Credentials: `Authorization: Bearer <token>` (from POST /auth/token), or the UI's session cookie
 * (from POST /auth/login). A request with the cookie that changes something must also send the
 * session's CSRF token in `X-CSRF-Token`: a page on another site can make the browser send the
 * cookie, but cannot read the token. Bearer tokens are not sent by browsers on their own.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Store } from "../../store/db.js";
import { ApiProblem } from "../problems.js";
import { roleAllows, type Access } from "./roles.js";
import type { TokenSigner } from "./tokens.js";
import { findUser, type ApiUser } from "./users.js";

export const SESSION_COOKIE = "aloft_session";
export const CSRF_COOKIE = "aloft_csrf";
export const CSRF_HEADER = "x-csrf-token";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    user: ApiUser | null;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function installAuth(app: FastifyInstance, store: Store, signer: TokenSigner): void {
  app.addHook("onRoute", (route) => {
    if (!route.config?.access) throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
  });
  app.decorateRequest("user", null);
  app.addHook("onRequest", async (request) => {
    const access = request.routeOptions.config.access;
    if (!access) return; // no route: the not-found handler answers
    request.user = await authenticate(request, store, signer, access === "public");
    if (access === "public") return;
    if (!request.user) {
      throw new ApiProblem(401, "Unauthorized", "not logged in: send 'Authorization: Bearer <token>' (from POST /auth/token) or log in (POST /auth/login)", {
        "www-authenticate": 'Bearer realm="aloft"',
      });
    }
    if (!roleAllows(request.user.role, access)) {
      throw new ApiProblem(403, "Forbidden", `user '${request.user.username}' has role '${request.user.role}'; ${request.method} ${request.routeOptions.url} needs role '${access}' or higher`);
    }
  });
}

/** The user the request's credentials name, or null when it has none; bad credentials are a 401 (or a 403 for CSRF). */
async function authenticate(request: FastifyRequest, store: Store, signer: TokenSigner, publicRoute: boolean): Promise<ApiUser | null> {
  const header = request.headers.authorization;
  const cookie = request.cookies[SESSION_COOKIE];
  let token: string;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      if (publicRoute) return null;
      throw new ApiProblem(401, "Unauthorized", "the Authorization header must be 'Bearer <token>'", { "www-authenticate": 'Bearer realm="aloft"' });
    }
    token = match[1]!;
  } else if (cookie !== undefined) {
    token = cookie;
    if (!SAFE_METHODS.has(request.method) && !publicRoute && request.headers[CSRF_HEADER] !== signer.csrfFor(cookie)) {
      throw new ApiProblem(403, "Forbidden", `a change made with the session cookie must send the session's CSRF token in the ${CSRF_HEADER} header (it is in the ${CSRF_COOKIE} cookie)`);
    }
  } else {
    return null;
  }
  const claims = signer.verify(token);
  const user = claims ? await findUser(store, claims.sub) : null;
  if (!claims || !user || !user.active || user.changedAt !== claims.ver) {
    if (publicRoute) return null;
    throw new ApiProblem(401, "Unauthorized", "the token or session is not valid (expired, or its user was changed or deactivated): log in again", {
      "www-authenticate": 'Bearer realm="aloft", error="invalid_token"',
    });
  }
  return user;
}
