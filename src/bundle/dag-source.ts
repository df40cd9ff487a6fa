/**
 * The source of a deployed DAG file. A bundle module is the file compiled by esbuild (TypeScript made
 * JavaScript, its relative imports bundled in), and it carries an inline source map whose
 * `sourcesContent` keeps every input file as written, by its path relative to the bundle root: the
 * DAG file's own text is read from there. A module without it (none is expected) gives its code.
 */
const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

interface SourceMap {
  sources?: string[];
  sourcesContent?: Array<string | null>;
}

/** The text of `fileloc` as it was deployed, from the compiled `moduleCode` that was built from it. */
export function dagFileSource(moduleCode: string, fileloc: string): string {
  const encoded = INLINE_MAP.exec(moduleCode)?.[1];
  if (!encoded) return moduleCode;
  let map: SourceMap;
  try {
    map = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as SourceMap;
  } catch {
    return moduleCode;
  }
  const index = map.sources?.indexOf(fileloc) ?? -1;
  return (index >= 0 ? map.sourcesContent?.[index] : null) ?? moduleCode;
}
