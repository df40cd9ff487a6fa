/**
 * Aloft's addition: managing the API's users (admin only). Passwords are write-only: never returned.
 * Any change of a user ends the tokens and sessions issued to them before.
 */
import type { FastifyInstance } from "fastify";
import { logEvent } from "../../operations/context.js";
import type { Store } from "../../store/db.js";
import { ROLES } from "../auth/roles.js";
import { changeUser, createUser, findUser, listUsers, type ApiUser, type UserChange } from "../auth/users.js";
import { iso } from "../pagination.js";
import { conflict } from "../problems.js";

const role = { type: "string", enum: ROLES } as const;
const password = { type: "string", minLength: 1, maxLength: 1024 } as const;
const usernameParam = { type: "object", required: ["username"], properties: { username: { type: "string", maxLength: 250 } } } as const;

const userResponse = (u: ApiUser) => ({ username: u.username, role: u.role, active: u.active });

export function registerUserRoutes(app: FastifyInstance, store: Store): void {
  app.get("/api/v2/users", { config: { access: "admin" } }, async () => {
    const users = await listUsers(store);
    return {
      users: users.map((u) => ({ ...userResponse(u), created_at: iso(u.createdAt), last_login_at: iso(u.lastLoginAt) })),
      total_entries: users.length,
    };
  });

  app.post<{ Body: { username: string; password: string; role: string } }>(
    "/api/v2/users",
    {
      config: { access: "admin" },
      schema: { body: { type: "object", required: ["username", "password", "role"], additionalProperties: false, properties: { username: { type: "string", maxLength: 250 }, password, role } } },
    },
    async (request, reply) => {
      const { username } = request.body;
      if (await findUser(store, username)) throw conflict(`user '${username}' exists already`);
      const user = await createUser(store, username, request.body.password, request.body.role);
      await logEvent(store.db, { owner: request.user!.username }, "user.create", {}, { username, role: user.role });
      return reply.code(201).send(userResponse(user));
    },
  );

  app.patch<{ Params: { username: string }; Body: UserChange }>(
    "/api/v2/users/:username",
    {
      config: { access: "admin" },
      schema: { params: usernameParam, body: { type: "object", minProperties: 1, additionalProperties: false, properties: { password, role, active: { type: "boolean" } } } },
    },
    async (request) => {
      const { username } = request.params;
      const user = await changeUser(store, username, request.body);
      await logEvent(store.db, { owner: request.user!.username }, "user.change", {}, { username, changed: Object.keys(request.body) });
      return userResponse(user);
    },
  );
}
