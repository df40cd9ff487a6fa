/**
 * Triggering a DAG: a form built from the DAG's params (their JSON Schemas pick the inputs), or the
 * whole conf as JSON, and an optional logical date. The server checks the conf against the schemas too.
 */
import { useEffect, useState } from "preact/hooks";
import { api, enc, messageOf } from "../api.js";
import { navigate, href } from "../router.js";
import { Modal } from "./modal.js";

interface ParamSpec {
  value: unknown;
  description: string | null;
  schema: { type?: string | string[]; enum?: unknown[]; title?: string; description?: string };
}

type Details = { params?: Record<string, ParamSpec> };

const typeOf = (spec: ParamSpec): string => {
  const declared = Array.isArray(spec.schema.type) ? spec.schema.type.find((t) => t !== "null") : spec.schema.type;
  if (declared) return declared;
  const value = spec.value;
  return value === null || value === undefined ? "string" : Array.isArray(value) ? "array" : typeof value;
};

/** The text an input shows for a value (objects and arrays as JSON). */
const asText = (value: unknown, type: string) => (value === undefined || value === null ? "" : type === "object" || type === "array" ? JSON.stringify(value, null, 2) : String(value));

/** The value an input's text stands for; a message naming the param when it does not parse. */
function fromText(name: string, text: string, type: string): unknown {
  if (type === "number" || type === "integer") {
    if (text.trim() === "") return null;
    const n = Number(text);
    if (Number.isNaN(n)) throw new Error(`param '${name}': '${text}' is not a number`);
    return n;
  }
  if (type === "object" || type === "array") {
    try {
      return text.trim() === "" ? null : JSON.parse(text);
    } catch {
      throw new Error(`param '${name}': not valid JSON`);
    }
  }
  return text;
}

export function TriggerDialog({ dagId, onClose }: { dagId: string; onClose: () => void }) {
  const [params, setParams] = useState<Record<string, ParamSpec>>();
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [flags, setFlags] = useState<Record<string, boolean>>({});
  const [rawConf, setRawConf] = useState<string | null>(null);
  const [logicalDate, setLogicalDate] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<Details>(`/api/v2/dags/${enc(dagId)}/details`).then(
      (details) => {
        const specs = details.params ?? {};
        setParams(specs);
        const t: Record<string, string> = {};
        const f: Record<string, boolean> = {};
        for (const [name, spec] of Object.entries(specs)) {
          if (typeOf(spec) === "boolean") f[name] = spec.value === true;
          else t[name] = asText(spec.value, typeOf(spec));
        }
        setTexts(t);
        setFlags(f);
      },
      (e: Error) => setError(e.message),
    );
  }, [dagId]);

  const conf = (): Record<string, unknown> => {
    if (rawConf !== null) {
      const parsed: unknown = JSON.parse(rawConf || "{}");
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("conf must be a JSON object");
      return parsed as Record<string, unknown>;
    }
    const out: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(params ?? {})) {
      const type = typeOf(spec);
      out[name] = type === "boolean" ? flags[name] : fromText(name, texts[name] ?? "", type);
    }
    return out;
  };

  const trigger = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = { conf: conf(), logical_date: logicalDate ? new Date(logicalDate).toISOString() : null };
      const run = await api<{ dag_run_id: string }>(`/api/v2/dags/${enc(dagId)}/dagRuns`, { method: "POST", body });
      onClose();
      navigate(href(["dags", dagId], { tab: "grid", run: run.dag_run_id }));
    } catch (e) {
      setError(e instanceof SyntaxError ? `conf is not valid JSON: ${e.message}` : messageOf(e));
      setBusy(false);
    }
  };

  const names = Object.keys(params ?? {});
  return (
    <Modal title={`Trigger ${dagId}`} onClose={onClose}>
      <form onSubmit={trigger} data-testid="trigger-form">
        {!params && !error && <p class="muted">Loading the DAG's params…</p>}
        {params && rawConf === null && names.length === 0 && <p class="muted">This DAG declares no params.</p>}
        {params &&
          rawConf === null &&
          names.map((name) => {
            const spec = params[name]!;
            const type = typeOf(spec);
            const help = spec.description ?? spec.schema.description;
            return (
              <div key={name}>
                <label for={`param-${name}`}>{spec.schema.title ?? name}</label>
                {type === "boolean" ? (
                  <input id={`param-${name}`} type="checkbox" checked={flags[name]} onChange={(e) => setFlags({ ...flags, [name]: e.currentTarget.checked })} />
                ) : spec.schema.enum ? (
                  <select id={`param-${name}`} value={texts[name]} onChange={(e) => setTexts({ ...texts, [name]: e.currentTarget.value })}>
                    {spec.schema.enum.map((option) => (
                      <option key={String(option)} value={String(option)}>
                        {String(option)}
                      </option>
                    ))}
                  </select>
                ) : type === "object" || type === "array" ? (
                  <textarea id={`param-${name}`} rows={4} cols={50} value={texts[name]} onInput={(e) => setTexts({ ...texts, [name]: e.currentTarget.value })} />
                ) : (
                  <input
                    id={`param-${name}`}
                    type={type === "number" || type === "integer" ? "number" : "text"}
                    step={type === "integer" ? 1 : "any"}
                    value={texts[name]}
                    onInput={(e) => setTexts({ ...texts, [name]: e.currentTarget.value })}
                  />
                )}
                {help && <div class="field-help">{help}</div>}
              </div>
            );
          })}
        {rawConf !== null && (
          <>
            <label for="conf">conf (JSON object)</label>
            <textarea id="conf" rows={8} cols={50} value={rawConf} onInput={(e) => setRawConf(e.currentTarget.value)} />
          </>
        )}
        <p>
          <a href="#" onClick={(e) => (e.preventDefault(), setRawConf(rawConf === null ? JSON.stringify(safeConf(conf), null, 2) : null))}>
            {rawConf === null ? "Edit the conf as JSON" : "Back to the form"}
          </a>
        </p>
        <label for="logical-date">Logical date (optional; default now)</label>
        <input id="logical-date" type="datetime-local" step={1} value={logicalDate} onInput={(e) => setLogicalDate(e.currentTarget.value)} />
        {error && <div class="error">{error}</div>}
        <div class="actions">
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button class="primary" type="submit" disabled={busy || !params} data-testid="trigger-submit">
            Trigger
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** The form's conf for the JSON editor, or {} while a field does not parse. */
function safeConf(conf: () => Record<string, unknown>): Record<string, unknown> {
  try {
    return conf();
  } catch {
    return {};
  }
}
