/**
 * Pools: their slots and what holds them (updates every 3 s), create, change slots or description,
 * delete. default_pool, and a pool that tries hold, cannot be deleted: the API says why.
 */
import { useState } from "preact/hooks";
import { api, enc } from "../../api.js";
import { useDialog } from "../../components/modal.js";
import { usePoll } from "../../hooks.js";
import type { Route } from "../../router.js";
import { useCan } from "../../session.js";
import { CountAndCreate, DeleteDialog, EditDialog, Field, listPlace, listWords, PAGE_SIZE, Pager, SearchBox, type Checked } from "./shared.js";

interface Pool {
  name: string;
  slots: number;
  description: string | null;
  occupied_slots: number;
  running_slots: number;
  queued_slots: number;
  scheduled_slots: number;
  open_slots: number;
}

export function PoolsPage({ route }: { route: Route }) {
  const { offset, search } = listPlace(route);
  const canChange = useCan("op");
  const { dialog, open, close } = useDialog();
  const list = usePoll(
    () => api<{ pools: Pool[]; total_entries: number }>("/api/v2/pools", { query: { limit: PAGE_SIZE, offset, order_by: "name", pool_name_pattern: search || undefined } }),
    [offset, search],
    3000,
  );

  const remove = (p: Pool) =>
    open(
      <DeleteDialog title={`Delete pool ${p.name}?`} path={`/api/v2/pools/${enc(p.name)}`} onDeleted={list.reload} onClose={close}>
        <p>Tasks that name this pool will wait until a pool of that name exists again.</p>
      </DeleteDialog>,
    );
  const edit = (p?: Pool) => open(<PoolDialog pool={p} onSaved={list.reload} onClose={close} />);

  return (
    <>
      <SearchBox route={route} placeholder="Search pools">
        <CountAndCreate total={list.data?.total_entries} noun="pool" create={canChange ? { label: "New pool", testId: "create-pool", onClick: () => edit() } : undefined} />
      </SearchBox>
      {list.error && <div class="error">{list.error}</div>}
      <table class="list" data-testid="pools">
        <thead>
          <tr>
            <th>Pool</th>
            <th>Slots</th>
            <th>Occupied</th>
            <th>Running</th>
            <th>Queued</th>
            <th>Scheduled</th>
            <th>Open</th>
            <th>Usage</th>
            <th>Description</th>
            {canChange && <th />}
          </tr>
        </thead>
        <tbody>
          {list.data?.pools.map((p) => (
            <tr key={p.name} data-key={p.name}>
              <td class="mono">{p.name}</td>
              <td>{p.slots}</td>
              <td>{p.occupied_slots}</td>
              <td>{p.running_slots}</td>
              <td>{p.queued_slots}</td>
              <td>{p.scheduled_slots}</td>
              <td data-testid="open-slots">{p.open_slots}</td>
              <td>
                <PoolBar pool={p} />
              </td>
              <td>{p.description}</td>
              {canChange && (
                <td class="admin-actions">
                  <button onClick={() => edit(p)} data-testid="edit">
                    Edit
                  </button>
                  <button onClick={() => remove(p)} data-testid="delete">
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.pools.length === 0 && <p class="muted">No pool matches.</p>}
      {list.data && <Pager route={route} total={list.data.total_entries} shown={list.data.pools.length} />}
      {dialog}
    </>
  );
}

/** Running and queued slots as a bar of the pool's slots. */
function PoolBar({ pool }: { pool: Pool }) {
  const share = (n: number) => `${pool.slots > 0 ? Math.min(100, (n / pool.slots) * 100) : 0}%`;
  return (
    <div class="pool-bar" title={`${pool.running_slots} running, ${pool.queued_slots} queued of ${pool.slots} slots`}>
      <span style={{ width: share(pool.running_slots), background: "#a3e635" }} />
      <span style={{ width: share(pool.queued_slots), background: "#9ca3af" }} />
    </div>
  );
}

function PoolDialog({ pool, onSaved, onClose }: { pool?: Pool; onSaved: () => void; onClose: () => void }) {
  const [name, setName] = useState(pool?.name ?? "");
  const [slots, setSlots] = useState(pool ? String(pool.slots) : "");
  const [description, setDescription] = useState(pool?.description ?? "");

  const changed = () => {
    const fields: string[] = [];
    if (pool && Number(slots) !== pool.slots) fields.push("slots");
    if (pool && description !== (pool.description ?? "")) fields.push("description");
    return fields;
  };

  const check = (): Checked => {
    if (!pool && !name.trim()) return { error: "The pool needs a name." };
    if (!pool && name.length > 250) return { error: "The name has at most 250 characters." };
    if (!/^\d+$/.test(slots.trim())) return { error: "Slots is a whole number, 0 or more (Aloft has no unlimited pools)." };
    if (!pool) return { confirm: <p>Create pool <code>{name}</code> with {slots} slots?</p>, confirmLabel: "Create" };
    const fields = changed();
    if (fields.length === 0) return { error: "Nothing changed." };
    const fewer = Number(slots) < pool.occupied_slots;
    return {
      confirm: (
        <>
          <p>
            Change the {listWords(fields)} of pool <code>{pool.name}</code>
            {fields.includes("slots") ? ` from ${pool.slots} to ${slots} slots` : ""}?
          </p>
          {fewer && <p class="notice">{pool.occupied_slots} slots are in use: running tries finish, and new ones wait until the pool has room.</p>}
        </>
      ),
      confirmLabel: "Save",
    };
  };

  const save = async () => {
    if (!pool) await api("/api/v2/pools", { method: "POST", body: { name: name.trim(), slots: Number(slots), description: description || null } });
    else await api(`/api/v2/pools/${enc(pool.name)}`, { method: "PATCH", body: { slots: Number(slots), description: description || null }, query: { update_mask: changed() } });
  };

  return (
    <EditDialog title={pool ? `Edit pool ${pool.name}` : "New pool"} check={check} save={save} onSaved={onSaved} onClose={onClose}>
      <Field label="Name" help={pool ? "Pools cannot be renamed: create another and delete this one once no task uses it." : undefined}>
        <input value={name} disabled={!!pool} onInput={(e) => setName(e.currentTarget.value)} data-testid="field-name" />
      </Field>
      <Field label="Slots">
        <input value={slots} inputMode="numeric" onInput={(e) => setSlots(e.currentTarget.value)} data-testid="field-slots" />
      </Field>
      <Field label="Description">
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} data-testid="field-description" />
      </Field>
    </EditDialog>
  );
}
