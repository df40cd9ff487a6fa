/** Dialogs: a modal frame, and the confirmation every state-changing action asks for. */
import { messageOf } from "../api.js";
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

export function Modal({ title, children, onClose }: { title: string; children: ComponentChildren; onClose: () => void }) {
  return (
    <div class="modal-back" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-label={title}>
        <h2 style={{ marginTop: 0 }}>{title}</h2>
        {children}
      </div>
    </div>
  );
}

export interface ConfirmProps {
  title: string;
  /** What will change, in words. */
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  /** Does the change; an error it throws is shown in the dialog, which stays open. */
  onConfirm: () => Promise<void>;
  onClose: () => void;
}

export function ConfirmDialog({ title, children, confirmLabel, danger, onConfirm, onClose }: ConfirmProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      onClose();
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <Modal title={title} onClose={onClose}>
      {children}
      {error && <div class="error">{error}</div>}
      <div class="actions">
        <button onClick={onClose} disabled={busy}>
          Cancel
        </button>
        <button class={danger ? "danger" : "primary"} onClick={confirm} disabled={busy} data-testid="confirm">
          {confirmLabel}
        </button>
      </div>
    </Modal>
  );
}

/** State for "one dialog at a time": `open(<ConfirmDialog …/>)`, `close()`, and `dialog` to render. */
export function useDialog() {
  const [dialog, setDialog] = useState<ComponentChildren>(null);
  return { dialog, open: setDialog, close: () => setDialog(null) };
}
