/**
 * Variables: list, create, edit, delete. The API masks secret values (`***`, whole or inside a JSON
 * value); the edit form never offers a masked value back, so saving cannot overwrite the secret
 * with the mask: the value changes only when a new one is typed.
 */
import { useState } from "preact/hooks";
import { api, enc } from "../../api.js";
import { useDialog } from "../../components/modal.js";
import { usePoll } from "../../hooks.js";
import type { Route } from "../../router.js";
import { useCan } from "../../session.js";
import { CountAndCreate, DeleteDialog, EditDialog, Field, listPlace, listWords, PAGE_SIZE, Pager, SearchBox, type Checked } from "./shared.js";

interface Variable {
  key: string;
  value: string;
  description: string | null;
  is_encrypted: boolean;
}

const KEY_PATTERN = /^[A-Za-z0-9_.\-/]{1,250}$/;
const MASK = "***";

/** Whether the API masked (part of) the value: it cannot be edited as shown. */
const isMasked = (value: string) => value === MASK || value.includes(`"${MASK}"`);

export function VariablesPage({ route }: { route: Route }) {
  const { offset, search } = listPlace(route);
  const canChange = useCan("op");
  const { dialog, open, close } = useDialog();
  const list = usePoll(
    () => api<{ variables: Variable[]; total_entries: number }>("/api/v2/variables", { query: { limit: PAGE_SIZE, offset, order_by: "key", variable_key_pattern: search || undefined } }),
    [offset, search],
    0,
  );

  const remove = (v: Variable) =>
    open(
      <DeleteDialog title={`Delete variable ${v.key}?`} path={`/api/v2/variables/${enc(v.key)}`} onDeleted={list.reload} onClose={close}>
        <p>DAGs that read it will no longer find it.</p>
      </DeleteDialog>,
    );
  const edit = (v?: Variable) => open(<VariableDialog variable={v} onSaved={list.reload} onClose={close} />);

  return (
    <>
      <SearchBox route={route} placeholder="Search keys">
        <CountAndCreate total={list.data?.total_entries} noun="variable" create={canChange ? { label: "New variable", testId: "create-variable", onClick: () => edit() } : undefined} />
      </SearchBox>
      {list.error && <div class="error">{list.error}</div>}
      <table class="list" data-testid="variables">
        <thead>
          <tr>
            <th>Key</th>
            <th>Value</th>
            <th>Description</th>
            <th>Encrypted</th>
            {canChange && <th />}
          </tr>
        </thead>
        <tbody>
          {list.data?.variables.map((v) => (
            <tr key={v.key} data-key={v.key}>
              <td class="mono">{v.key}</td>
              <td>
                <pre class="admin-value" title={isMasked(v.value) ? "secret: masked by the API" : undefined}>
                  {v.value}
                </pre>
              </td>
              <td>{v.description}</td>
              <td>{v.is_encrypted ? "yes" : "no"}</td>
              {canChange && (
                <td class="admin-actions">
                  <button onClick={() => edit(v)} data-testid="edit">
                    Edit
                  </button>
                  <button onClick={() => remove(v)} data-testid="delete">
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.variables.length === 0 && <p class="muted">No variables{search ? " match" : " yet"}.</p>}
      {list.data && <Pager route={route} total={list.data.total_entries} shown={list.data.variables.length} />}
      {dialog}
    </>
  );
}

function VariableDialog({ variable, onSaved, onClose }: { variable?: Variable; onSaved: () => void; onClose: () => void }) {
  const masked = variable !== undefined && isMasked(variable.value);
  const [key, setKey] = useState(variable?.key ?? "");
  const [value, setValue] = useState(variable && !masked ? variable.value : "");
  const [description, setDescription] = useState(variable?.description ?? "");

  const changed = () => {
    const fields: string[] = [];
    if (variable && (masked ? value !== "" : value !== variable.value)) fields.push("value");
    if (variable && description !== (variable.description ?? "")) fields.push("description");
    return fields;
  };

  const check = (): Checked => {
    if (!variable) {
      if (!KEY_PATTERN.test(key)) return { error: "The key needs 1 to 250 letters, digits and _ . - /" };
      return { confirm: <p>Create variable <code>{key}</code>?</p>, confirmLabel: "Create" };
    }
    const fields = changed();
    if (fields.length === 0) return { error: "Nothing changed." };
    return {
      confirm: (
        <p>
          Change the {listWords(fields)} of variable <code>{variable.key}</code>? DAGs read the new value from their next task on.
        </p>
      ),
      confirmLabel: "Save",
    };
  };

  const save = async () => {
    const body = { key, value, description: description || null };
    if (!variable) await api("/api/v2/variables", { method: "POST", body });
    // update_mask names only what changed: a masked value the form left empty is not sent as "".
    else await api(`/api/v2/variables/${enc(variable.key)}`, { method: "PATCH", body, query: { update_mask: changed() } });
  };

  return (
    <EditDialog title={variable ? `Edit variable ${variable.key}` : "New variable"} check={check} save={save} onSaved={onSaved} onClose={onClose}>
      <Field label="Key">
        <input value={key} disabled={!!variable} onInput={(e) => setKey(e.currentTarget.value)} data-testid="field-key" autoFocus={!variable} />
      </Field>
      <Field label="Value" help={masked ? "The value is secret and never shown: leave this empty to keep it, or type a new value to replace it." : "Text; JSON is kept as typed."}>
        <textarea rows={5} value={value} placeholder={masked ? "unchanged (secret)" : ""} onInput={(e) => setValue(e.currentTarget.value)} data-testid="field-value" />
      </Field>
      <Field label="Description">
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} data-testid="field-description" />
      </Field>
    </EditDialog>
  );
}
