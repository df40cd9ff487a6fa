/**
 * Templates: bash commands and env values are rendered with nunjucks (Jinja-compatible) when a try
 * starts, with Airflow's names: `{{ ds }}`, `{{ ts }}`, `{{ params.x }}`, `{{ var.value.x }}`,
 * `{{ var.json.x.y }}`, `{{ conn.x.host }}`, `{{ macros.ds_add(ds, 1) }}`... Variables and
 * connections are fetched on demand: a pass renders with placeholders to learn which ones the template
 * uses, they are fetched, and the template is rendered again with them.
 */
import nunjucks from "nunjucks";
import { pythonIsoformat } from "../util/dates.js";

const environment = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });

/** A template error that names what is wrong; the runner fails the try with it. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

/** Throws a TemplateError when `source` is not a valid template (checked when the DAG loads). */
export function checkTemplateSyntax(where: string, what: string, source: string): void {
  try {
    new nunjucks.Template(source, environment, undefined, true);
  } catch (error) {
    throw new TemplateError(`${where}: ${what} is not a valid template: ${cleanMessage(error)}`);
  }
}

/** What a template may look up besides variables and connections (Airflow's template context). */
export interface TemplateInputs {
  dagId: string;
  taskId: string;
  runId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  tryNumber: number;
  mapIndex: number;
  /** The item of a mapped task instance. */
  item?: unknown;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
}

/** How templates fetch variables and connections; undefined when there is none with that name. */
export interface TemplateSources {
  variable(key: string): Promise<string | undefined>;
  connection(connId: string): Promise<Record<string, unknown> | undefined>;
  /** An XCom of this run (`ti.xcom_pull`); undefined when there is none. Default: not offered. */
  xcom?(taskId: string, key: string): Promise<unknown>;
}

/** What a rendering pass asked for that was not fetched yet. */
interface Missing {
  variables: Set<string>;
  connections: Set<string>;
  /** "task|key" of `ti.xcom_pull` calls. */
  xcoms: Set<string>;
}

/** Renders each template; every one sees the same variables and connections. */
export async function renderTemplates(
  where: string,
  templates: Record<string, string>,
  inputs: TemplateInputs,
  sources: TemplateSources,
): Promise<Record<string, string>> {
  const variables = new Map<string, string>();
  const connections = new Map<string, Record<string, unknown>>();
  const xcoms = new Map<string, unknown>();
  const out: Record<string, string> = {};
  for (const [what, source] of Object.entries(templates)) {
    // Fetch what each pass asked for until a pass needs nothing new (a few passes at most).
    for (let pass = 0; ; pass++) {
      const missing: Missing = { variables: new Set(), connections: new Set(), xcoms: new Set() };
      const context = templateContext(inputs, { variables, connections, xcoms }, missing);
      let rendered: string | undefined;
      let failure: unknown;
      try {
        rendered = environment.renderString(source, context);
      } catch (error) {
        failure = error;
      }
      if (missing.variables.size === 0 && missing.connections.size === 0 && missing.xcoms.size === 0) {
        if (failure !== undefined) throw new TemplateError(`${where}: cannot render ${what}: ${describeRenderError(failure, source)}`);
        out[what] = rendered!;
        break;
      }
      if (pass >= 5) throw new TemplateError(`${where}: cannot render ${what}: it keeps asking for new variables or connections`);
      for (const key of missing.variables) {
        const value = await sources.variable(key);
        if (value === undefined) {
          throw new TemplateError(`${where}: cannot render ${what}: variable '${key}' does not exist; create it with 'aloft variables set ${key} VALUE'`);
        }
        variables.set(key, value);
      }
      for (const id of missing.connections) {
        const conn = await sources.connection(id);
        if (conn === undefined) {
          throw new TemplateError(`${where}: cannot render ${what}: connection '${id}' does not exist; add it with 'aloft connections add ${id} ...'`);
        }
        connections.set(id, conn);
      }
      for (const wanted of missing.xcoms) {
        const [taskId, key] = wanted.split("|") as [string, string];
        if (!sources.xcom) throw new TemplateError(`${where}: cannot render ${what}: ti.xcom_pull is not available here`);
        const value = await sources.xcom(taskId, key);
        if (value === undefined) {
          throw new TemplateError(`${where}: cannot render ${what}: ti.xcom_pull: task '${taskId}' has no XCom '${key}' in this run`);
        }
        xcoms.set(wanted, value);
      }
    }
  }
  return out;
}

function templateContext(
  inputs: TemplateInputs,
  fetched: { variables: Map<string, string>; connections: Map<string, Record<string, unknown>>; xcoms: Map<string, unknown> },
  missing: Missing,
): Record<string, unknown> {
  const { variables, connections, xcoms } = fetched;
  const ds = isoDay(inputs.logicalDate);
  const lookup = <T>(known: Map<string, T>, wanted: Set<string>, map: (value: T) => unknown) =>
    new Proxy({}, {
      get(_target, name) {
        if (typeof name !== "string") return undefined;
        if (known.has(name)) return map(known.get(name)!);
        wanted.add(name);
        return PLACEHOLDER;
      },
    });
  const value = lookup(variables, missing.variables, (v) => v);
  const json = lookup(variables, missing.variables, (v) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      throw new TemplateError(`var.json: the variable's value is not JSON: ${v.slice(0, 40)}`);
    }
  });
  // `var.x` is short for `var.value.x`.
  const variable = new Proxy({}, {
    get(_target, name) {
      if (name === "value") return value;
      if (name === "json") return json;
      return (value as Record<string | symbol, unknown>)[name];
    },
  });
  /** Airflow's `ti.xcom_pull(task_ids="x", key="return_value")` (one task id), positional or keyword arguments. */
  const xcomPull = (...args: unknown[]) => {
    const kwargs = (typeof args.at(-1) === "object" && args.at(-1) !== null && (args.at(-1) as { __keywords?: boolean }).__keywords ? args.pop() : {}) as Record<string, unknown>;
    const taskId = kwargs.task_ids ?? args[0];
    const key = kwargs.key ?? args[1] ?? "return_value";
    if (typeof taskId !== "string" || typeof key !== "string") {
      throw new TemplateError("ti.xcom_pull needs one task id as a string, e.g. ti.xcom_pull(task_ids='extract')");
    }
    const wanted = `${taskId}|${key}`;
    if (xcoms.has(wanted)) return xcoms.get(wanted);
    missing.xcoms.add(wanted);
    return PLACEHOLDER;
  };
  const taskInstance = {
    dag_id: inputs.dagId,
    task_id: inputs.taskId,
    run_id: inputs.runId,
    try_number: inputs.tryNumber,
    map_index: inputs.mapIndex,
    xcom_pull: xcomPull,
  };
  return {
    ds,
    ds_nodash: ds.replace(/-/g, ""),
    ts: pythonIsoformat(inputs.logicalDate),
    ts_nodash: pythonIsoformat(inputs.logicalDate).slice(0, 19).replace(/[-:]/g, ""),
    logical_date: pythonIsoformat(inputs.logicalDate),
    data_interval_start: pythonIsoformat(inputs.dataIntervalStart),
    data_interval_end: pythonIsoformat(inputs.dataIntervalEnd),
    run_id: inputs.runId,
    dag: { dag_id: inputs.dagId },
    task: { task_id: inputs.taskId },
    ti: taskInstance,
    task_instance: taskInstance,
    dag_run: { run_id: inputs.runId, conf: inputs.conf, logical_date: pythonIsoformat(inputs.logicalDate) },
    params: inputs.params,
    map_index: inputs.mapIndex,
    ...(inputs.mapIndex >= 0 ? { item: inputs.item } : {}),
    var: variable,
    conn: lookup(connections, missing.connections, (c) => c),
    macros: MACROS,
  };
}

/** Stands in for a variable or connection not fetched yet: any lookup on it gives itself, and it prints as "". */
const PLACEHOLDER: unknown = new Proxy(
  {},
  {
    get(_target, name) {
      if (name === Symbol.toPrimitive) return () => "";
      if (name === "toString" || name === "valueOf") return () => "";
      return PLACEHOLDER;
    },
  },
);

/** Airflow's macros (a documented subset). */
export const MACROS = {
  /** `ds_add("2026-01-05", -2)` → "2026-01-03". */
  ds_add(ds: string, days: number): string {
    const date = new Date(`${ds}T00:00:00Z`);
    if (Number.isNaN(date.getTime())) throw new TemplateError(`macros.ds_add: '${ds}' is not a YYYY-MM-DD date`);
    date.setUTCDate(date.getUTCDate() + Number(days));
    return isoDay(date);
  },
  /** `ds_format("2026-01-05", "%Y-%m-%d", "%d/%m/%Y")` → "05/01/2026" (%Y %m %d %H %M %S %j %y). */
  ds_format(ds: string, inputFormat: string, outputFormat: string): string {
    return strftime(strptime(ds, inputFormat), outputFormat);
  },
  /** `ds_nodash("2026-01-05")` → "20260105". */
  ds_nodash(ds: string): string {
    return ds.replace(/-/g, "");
  },
};

const FIELDS: Record<string, [string, (d: Date) => string]> = {
  Y: ["(\\d{4})", (d) => String(d.getUTCFullYear()).padStart(4, "0")],
  y: ["(\\d{2})", (d) => String(d.getUTCFullYear() % 100).padStart(2, "0")],
  m: ["(\\d{2})", (d) => String(d.getUTCMonth() + 1).padStart(2, "0")],
  d: ["(\\d{2})", (d) => String(d.getUTCDate()).padStart(2, "0")],
  H: ["(\\d{2})", (d) => String(d.getUTCHours()).padStart(2, "0")],
  M: ["(\\d{2})", (d) => String(d.getUTCMinutes()).padStart(2, "0")],
  S: ["(\\d{2})", (d) => String(d.getUTCSeconds()).padStart(2, "0")],
  j: ["(\\d{3})", (d) => String(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1).padStart(3, "0")],
};

function strftime(date: Date, format: string): string {
  return format.replace(/%([A-Za-z%])/g, (all, f: string) => (f === "%" ? "%" : FIELDS[f] ? FIELDS[f][1](date) : all));
}

function strptime(text: string, format: string): Date {
  const order: string[] = [];
  const pattern = format.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%([A-Za-z])/g, (all, f: string) => {
    if (!FIELDS[f] || f === "j") throw new TemplateError(`macros.ds_format: unsupported format field %${f}`);
    order.push(f);
    return FIELDS[f][0];
  });
  const match = new RegExp(`^${pattern}$`).exec(text);
  if (!match) throw new TemplateError(`macros.ds_format: '${text}' does not match the format '${format}'`);
  const part = (f: string, fallback: number) => (order.includes(f) ? Number(match[order.indexOf(f) + 1]) : fallback);
  const year = order.includes("Y") ? part("Y", 1970) : 2000 + part("y", 70);
  return new Date(Date.UTC(year, part("m", 1) - 1, part("d", 1), part("H", 0), part("M", 0), part("S", 0)));
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}


function cleanMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Template render error: /, "").replace(/\(unknown path\)\s*/, "").replace(/\s*\n\s*/g, " ").trim();
}

/** Names the expression an "undefined value" error is about, taken from the template at its line and column. */
function describeRenderError(error: unknown, source: string): string {
  if (error instanceof TemplateError) return error.message;
  const message = cleanMessage(error);
  const at = /\[Line (\d+), Column (\d+)\]/.exec(message);
  if (!message.includes("undefined value") || !at) return message;
  const line = source.split("\n")[Number(at[1]) - 1] ?? "";
  const column = Number(at[2]) - 1;
  const expressions = [...line.matchAll(/\{\{(.*?)\}\}/g)];
  const hit = expressions.find((m) => m.index <= column && column <= m.index + m[0].length) ?? expressions.filter((m) => m.index <= column).at(-1);
  const name = hit ? hit[1]!.trim() : "an expression";
  return `'${name}' is undefined (line ${at[1]}); the names a template can use are listed in docs/params-and-templates.md`;
}
