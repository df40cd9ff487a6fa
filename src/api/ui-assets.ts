/**
 * The web UI's files, built by scripts/build-ui.mjs into dist/ui, served at `/` and `/ui/assets/`.
 * The UI is a single page that talks to the same API with the session cookie.
 */
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { PACKAGE_ROOT } from "../paths.js";
import { ApiProblem } from "./problems.js";

const UI_DIR = path.join(PACKAGE_ROOT, "dist", "ui");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** A built file by its bare name; names with a path in them never reach the disk. */
function builtFile(name: string): { body: Buffer; type: string } {
  const type = CONTENT_TYPES[path.extname(name)];
  if (!/^[\w-]+(\.[\w-]+)+$/.test(name) || !type) throw new ApiProblem(404, "Not Found", `no such UI file: ${name}`);
  try {
    return { body: fs.readFileSync(path.join(UI_DIR, name)), type };
  } catch {
    if (!fs.existsSync(path.join(UI_DIR, "index.html"))) {
      throw new ApiProblem(503, "Service Unavailable", "the web UI is not built: run `npm run build` in Aloft's folder");
    }
    throw new ApiProblem(404, "Not Found", `no such UI file: ${name}`);
  }
}

export function registerUiAssets(app: FastifyInstance): void {
  app.get("/", { config: { access: "public" } }, async (_request, reply) => {
    const { body, type } = builtFile("index.html");
    return reply.type(type).header("cache-control", "no-cache").header("x-frame-options", "DENY").send(body);
  });
  app.get<{ Params: { name: string } }>("/ui/assets/:name", { config: { access: "public" } }, async (request, reply) => {
    const { body, type } = builtFile(request.params.name);
    // Revalidated on every load, so a new build shows at once after an upgrade.
    return reply.type(type).header("cache-control", "no-cache").send(body);
  });
}
