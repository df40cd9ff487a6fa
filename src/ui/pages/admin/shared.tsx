/** What the admin pages share: paging and search in the address, and the edit dialog (check, confirm, save). */
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import { api } from "../../api.js";
import { ConfirmDialog, Modal } from "../../components/modal.js";
import { href, navigate, type Route } from "../../router.js";

/** The public API's lists take at most 100 a page. */
export const PAGE_SIZE = 50;

/** The list's place in the address: `#/admin/pools?search=etl&offset=50`. */
export function listPlace(route: Route) {
  return {
    offset: Math.max(0, Number(route.query.get("offset") ?? 0) || 0),
    search: route.query.get("search") ?? "",
  };
}

function listHref(route: Route, change: Record<string, string | number | undefined>): string {
  return href(route.segments, { ...Object.fromEntries(route.query), ...change });
}

export function SearchBox({ route, placeholder, children }: { route: Route; placeholder: string; children?: ComponentChildren }) {
  const [typed, setTyped] = useState(listPlace(route).search);
  return (
    <form class="toolbar" onSubmit={(e) => (e.preventDefault(), navigate(listHref(route, { search: typed, offset: undefined })))}>
      <input type="search" placeholder={placeholder} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} data-testid="search" />
      <span class="grow" />
      {children}
    </form>
  );
}

/** The list's size and, for a role that may, its "New …" button. */
export function CountAndCreate({ total, noun, create }: { total: number | undefined; noun: string; create?: { label: string; testId: string; onClick: () => void } }) {
  return (
    <>
      {total !== undefined && <span class="muted">{plural(total, noun)}</span>}
      {create && (
        <button type="button" class="primary" onClick={create.onClick} data-testid={create.testId}>
          {create.label}
        </button>
      )}
    </>
  );
}

/** Deleting one thing at `path` (an API path), after a confirmation that says what follows. */
export function DeleteDialog({ title, path, children, onDeleted, onClose }: { title: string; path: string; children: ComponentChildren; onDeleted: () => void; onClose: () => void }) {
  return (
    <ConfirmDialog
      title={title}
      confirmLabel="Delete"
      danger
      onConfirm={async () => {
        await api(path, { method: "DELETE" });
        onDeleted();
      }}
      onClose={onClose}
    >
      {children}
    </ConfirmDialog>
  );
}

/** Previous / next, when the list has more than a page. */
export function Pager({ route, total, shown }: { route: Route; total: number; shown: number }) {
  const { offset } = listPlace(route);
  if (total <= PAGE_SIZE && offset === 0) return null;
  return (
    <div class="toolbar" style={{ marginTop: 10 }}>
      <a class="button" href={offset > 0 ? listHref(route, { offset: Math.max(0, offset - PAGE_SIZE) || undefined }) : undefined} data-testid="previous">
        Previous
      </a>
      <span class="muted">
        {shown ? `${offset + 1}–${offset + shown}` : "none"} of {total}
      </span>
      <a class="button" href={offset + PAGE_SIZE < total ? listHref(route, { offset: offset + PAGE_SIZE }) : undefined} data-testid="next">
        Next
      </a>
    </div>
  );
}

/** What a form's check answers: a mistake to fix, or the change to confirm. */
export type Checked = { error: string } | { confirm: ComponentChildren; confirmLabel: string };

/**
 * A form in a modal. Save checks the fields (obvious mistakes never reach the API), then asks for
 * confirmation; the API's error shows in the confirmation, and Cancel there goes back to the form.
 */
export function EditDialog({
  title,
  check,
  save,
  onSaved,
  onClose,
  children,
}: {
  title: string;
  check: () => Checked;
  save: () => Promise<void>;
  /** After a successful save (reload the list). */
  onSaved: () => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState<Exclude<Checked, { error: string }> | null>(null);
  const saved = useRef(false);
  const submit = (e: Event) => {
    e.preventDefault();
    const checked = check();
    if ("error" in checked) return setError(checked.error);
    setError(undefined);
    setConfirming(checked);
  };
  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit} class="admin-form" noValidate>
        {children}
        {error && (
          <div class="error" data-testid="form-error">
            {error}
          </div>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" data-testid="save">
            Save
          </button>
        </div>
      </form>
      {confirming && (
        <ConfirmDialog
          title={title}
          confirmLabel={confirming.confirmLabel}
          onConfirm={async () => {
            await save();
            saved.current = true;
          }}
          onClose={() => {
            setConfirming(null);
            if (saved.current) {
              onSaved();
              onClose();
            }
          }}
        >
          {confirming.confirm}
        </ConfirmDialog>
      )}
    </Modal>
  );
}

/** A labelled form field. */
export function Field({ label, help, children }: { label: string; help?: ComponentChildren; children: ComponentChildren }) {
  return (
    <div class="field">
      <label>
        {label}
        {children}
      </label>
      {help && <div class="field-help">{help}</div>}
    </div>
  );
}

/** "host, port and description": the fields a change touches, in words. */
export function listWords(words: string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** "1 pool", "3 pools". */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
