/**
 * Multi-document YAML (or JSON) text to policy resources: the embedded mode's policy files and
 * `linnet authz` input. Documents of other kinds (a Deployment beside its Server) are skipped,
 * so an app's whole manifest can live in the policy directory.
 */
import { parseAllDocuments } from 'yaml';
import { isPolicyObject, parsePolicyResource, PolicyResourceError, type PolicyResource } from './resources';

/** Parses every document of `text`; throws PolicyResourceError naming `file`, the document and each path. */
export function parsePolicyDocuments(text: string, file: string, fileOrder = 0): PolicyResource[] {
  const out: PolicyResource[] = [];
  const problems: string[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = `document ${i + 1}`;
    if (doc.errors.length > 0) return void problems.push(...doc.errors.map((e) => `${where}: YAML: ${e.message.split('\n')[0]}`));
    let o: unknown;
    try {
      o = doc.toJS();
    } catch (e) {
      // An alias to an anchor that is not set yet, or too many aliases (a YAML bomb).
      return void problems.push(`${where}: YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (o === null || o === undefined) return;
    const items = isList(o) ? (o as { items: unknown[] }).items : [o];
    items.forEach((item, j) => {
      if (!isPolicyObject(item)) return;
      const w = items.length > 1 || isList(o) ? `${where} items[${j}]` : where;
      const name = (item as { metadata?: { name?: unknown } }).metadata?.name;
      try {
        out.push(parsePolicyResource(item, `${file} ${w}`, `${String(fileOrder).padStart(6, '0')}-${String(i).padStart(6, '0')}-${String(j).padStart(6, '0')}`));
      } catch (e) {
        if (!(e instanceof PolicyResourceError)) throw e;
        problems.push(...e.problems.map((p) => `${w} (${String((item as { kind?: unknown }).kind)} ${typeof name === 'string' ? name : '?'}): ${p}`));
      }
    });
  });
  if (problems.length > 0) throw new PolicyResourceError(file, problems);
  return out;
}

function isList(o: unknown): boolean {
  return typeof o === 'object' && o !== null && (o as { kind?: unknown }).kind === 'List' && Array.isArray((o as { items?: unknown }).items);
}
