/**
 * Connections: list, create, edit, delete. The API never returns a password, and masks extra fields
 * that look secret; so an edit sends only the fields that changed (update_mask): the password only
 * when one is typed (or removed on purpose), the extra only when it is not masked or is replaced.
 */
import { useState } from "preact/hooks";
import { api, enc } from "../../api.js";
import { useDialog } from "../../components/modal.js";
import { usePoll } from "../../hooks.js";
import type { Route } from "../../router.js";
import { useCan } from "../../session.js";
import { CountAndCreate, DeleteDialog, EditDialog, Field, listPlace, listWords, PAGE_SIZE, Pager, SearchBox, type Checked } from "./shared.js";

interface Connection {
  connection_id: string;
  conn_type: string;
  description: string | null;
  host: string | null;
  login: string | null;
  schema: string | null;
  port: number | null;
  /** A JSON object as text, secret-looking fields `***`; null when empty. */
  extra: string | null;
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,250}$/;
const extraMasked = (extra: string | null) => extra !== null && extra.includes('"***"');

export function ConnectionsPage({ route }: { route: Route }) {
  const { offset, search } = listPlace(route);
  const canChange = useCan("op");
  const { dialog, open, close } = useDialog();
  const list = usePoll(
    () =>
      api<{ connections: Connection[]; total_entries: number }>("/api/v2/connections", {
        query: { limit: PAGE_SIZE, offset, order_by: "connection_id", connection_id_pattern: search || undefined },
      }),
    [offset, search],
    0,
  );

  const remove = (c: Connection) =>
    open(
      <DeleteDialog title={`Delete connection ${c.connection_id}?`} path={`/api/v2/connections/${enc(c.connection_id)}`} onDeleted={list.reload} onClose={close}>
        <p>Its password and extra are deleted with it; tasks that use it will fail to find it.</p>
      </DeleteDialog>,
    );
  const edit = (c?: Connection) => open(<ConnectionDialog connection={c} onSaved={list.reload} onClose={close} />);

  return (
    <>
      <SearchBox route={route} placeholder="Search connection ids">
        <CountAndCreate total={list.data?.total_entries} noun="connection" create={canChange ? { label: "New connection", testId: "create-connection", onClick: () => edit() } : undefined} />
      </SearchBox>
      {list.error && <div class="error">{list.error}</div>}
      <table class="list" data-testid="connections">
        <thead>
          <tr>
            <th>Connection</th>
            <th>Type</th>
            <th>Host</th>
            <th>Port</th>
            <th>Schema</th>
            <th>Login</th>
            <th>Extra</th>
            <th>Description</th>
            {canChange && <th />}
          </tr>
        </thead>
        <tbody>
          {list.data?.connections.map((c) => (
            <tr key={c.connection_id} data-key={c.connection_id}>
              <td class="mono">{c.connection_id}</td>
              <td>{c.conn_type}</td>
              <td class="mono">{c.host}</td>
              <td>{c.port}</td>
              <td>{c.schema}</td>
              <td>{c.login}</td>
              <td>{c.extra && <pre class="admin-value">{c.extra}</pre>}</td>
              <td>{c.description}</td>
              {canChange && (
                <td class="admin-actions">
                  <button onClick={() => edit(c)} data-testid="edit">
                    Edit
                  </button>
                  <button onClick={() => remove(c)} data-testid="delete">
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.connections.length === 0 && <p class="muted">No connections{search ? " match" : " yet"}.</p>}
      {list.data && <Pager route={route} total={list.data.total_entries} shown={list.data.connections.length} />}
      {dialog}
    </>
  );
}

type TextField = "connection_id" | "conn_type" | "description" | "host" | "login" | "schema" | "port" | "extra";

function ConnectionDialog({ connection, onSaved, onClose }: { connection?: Connection; onSaved: () => void; onClose: () => void }) {
  const masked = connection !== undefined && extraMasked(connection.extra);
  const initial = (field: TextField): string => {
    if (!connection || (field === "extra" && masked)) return "";
    const value = connection[field];
    return value === null ? "" : String(value);
  };
  const [fields, setFields] = useState<Record<TextField, string>>({
    connection_id: initial("connection_id"),
    conn_type: initial("conn_type"),
    description: initial("description"),
    host: initial("host"),
    login: initial("login"),
    schema: initial("schema"),
    port: initial("port"),
    extra: initial("extra"),
  });
  const [password, setPassword] = useState("");
  const [removePassword, setRemovePassword] = useState(false);
  const set = (field: TextField) => (e: { currentTarget: { value: string } }) => setFields({ ...fields, [field]: e.currentTarget.value });

  /** The fields an edit changes (update_mask): the password only when typed or removed, a masked extra only when replaced. */
  const changed = (): string[] => {
    const names: string[] = [];
    for (const field of ["conn_type", "description", "host", "login", "schema", "port"] as const) if (fields[field] !== initial(field)) names.push(field);
    if (masked ? fields.extra !== "" : fields.extra !== initial("extra")) names.push("extra");
    if (password !== "" || removePassword) names.push("password");
    return names;
  };

  const check = (): Checked => {
    if (!connection && !ID_PATTERN.test(fields.connection_id)) return { error: "The connection id needs 1 to 250 letters, digits and _ . -" };
    if (!fields.conn_type.trim()) return { error: "The type is required, such as postgres, http or aws." };
    if (fields.port && !/^\d+$/.test(fields.port)) return { error: "The port is a number from 1 to 65535." };
    if (fields.port && (Number(fields.port) < 1 || Number(fields.port) > 65535)) return { error: "The port is a number from 1 to 65535." };
    if (fields.extra.trim()) {
      let extra: unknown;
      try {
        extra = JSON.parse(fields.extra);
      } catch (e) {
        return { error: `The extra is not valid JSON: ${(e as Error).message}` };
      }
      if (extra === null || typeof extra !== "object" || Array.isArray(extra)) return { error: 'The extra must be a JSON object, such as {"timeout": 30}.' };
    }
    if (!connection) return { confirm: <p>Create connection <code>{fields.connection_id}</code>?</p>, confirmLabel: "Create" };
    const names = changed();
    if (names.length === 0) return { error: "Nothing changed." };
    return {
      confirm: (
        <p>
          Change the {listWords(names.map((n) => (n === "password" && removePassword ? "password (removed)" : n)))} of connection <code>{connection.connection_id}</code>?
        </p>
      ),
      confirmLabel: "Save",
    };
  };

  const save = async () => {
    const orNull = (text: string) => (text.trim() === "" ? null : text);
    const body = {
      connection_id: fields.connection_id,
      conn_type: fields.conn_type.trim(),
      description: orNull(fields.description),
      host: orNull(fields.host),
      login: orNull(fields.login),
      schema: orNull(fields.schema),
      port: fields.port ? Number(fields.port) : null,
      extra: orNull(fields.extra),
      ...(password !== "" ? { password } : removePassword ? { password: null } : {}),
    };
    if (!connection) await api("/api/v2/connections", { method: "POST", body });
    else await api(`/api/v2/connections/${enc(connection.connection_id)}`, { method: "PATCH", body, query: { update_mask: changed() } });
  };

  return (
    <EditDialog title={connection ? `Edit connection ${connection.connection_id}` : "New connection"} check={check} save={save} onSaved={onSaved} onClose={onClose}>
      <div class="admin-grid">
        <Field label="Connection id">
          <input value={fields.connection_id} disabled={!!connection} onInput={set("connection_id")} data-testid="field-connection_id" />
        </Field>
        <Field label="Type">
          <input value={fields.conn_type} onInput={set("conn_type")} placeholder="postgres" data-testid="field-conn_type" />
        </Field>
        <Field label="Host">
          <input value={fields.host} onInput={set("host")} data-testid="field-host" />
        </Field>
        <Field label="Port">
          <input value={fields.port} inputMode="numeric" onInput={set("port")} data-testid="field-port" />
        </Field>
        <Field label="Schema">
          <input value={fields.schema} onInput={set("schema")} data-testid="field-schema" />
        </Field>
        <Field label="Login">
          <input value={fields.login} onInput={set("login")} autoComplete="off" data-testid="field-login" />
        </Field>
      </div>
      <Field label="Password" help={connection ? "Never shown. Leave it empty to keep the current password (if any)." : undefined}>
        <input
          type="password"
          value={password}
          autoComplete="new-password"
          placeholder={connection ? "unchanged" : ""}
          disabled={removePassword}
          onInput={(e) => setPassword(e.currentTarget.value)}
          data-testid="field-password"
        />
      </Field>
      {connection && (
        <label class="admin-check">
          <input type="checkbox" checked={removePassword} onChange={(e) => (setRemovePassword(e.currentTarget.checked), setPassword(""))} data-testid="field-remove-password" /> Remove the
          password
        </label>
      )}
      <Field label="Extra (JSON object)" help={masked ? "The extra has secret fields, shown as ***: leave this empty to keep it, or type the whole extra to replace it." : undefined}>
        <textarea rows={4} value={fields.extra} placeholder={masked ? "unchanged (has secret fields)" : '{"timeout": 30}'} onInput={set("extra")} data-testid="field-extra" />
      </Field>
      <Field label="Description">
        <input value={fields.description} onInput={set("description")} data-testid="field-description" />
      </Field>
    </EditDialog>
  );
}
