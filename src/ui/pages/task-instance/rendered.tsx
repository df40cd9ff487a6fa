/** The rendered template fields of a task instance, each as its try saw it (secrets masked by the API). */

export function RenderedFields({ fields }: { fields: Record<string, unknown> }) {
  const names = Object.keys(fields);
  return (
    <div data-testid="rendered">
      {names.length === 0 && <p class="muted">No rendered fields: bash tasks have their command and environment here once a try has started.</p>}
      {names.map((name) => (
        <div key={name} class="rendered-field" data-field={name}>
          <h3 class="mono">{name}</h3>
          <pre class="value">{typeof fields[name] === "string" ? fields[name] : JSON.stringify(fields[name], null, 2)}</pre>
        </div>
      ))}
    </div>
  );
}
