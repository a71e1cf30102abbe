/**
 * Manifests in and out for `linnet inject` / `linnet uninject`: files, folders (recursive) and
 * `-`; YAML multi-document streams, JSON, and `kind: List`. Each object goes through a transform;
 * changes are applied to the parsed YAML document node by node so that comments and key order of
 * the untouched parts survive. All output is built in memory first: on any error nothing is
 * written.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Document, isMap, isSeq, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { InjectError } from './errors';
import { isObject, type Json, type Result } from './transform';

export interface Source {
  name: string; // file path or `-`
  text: string;
}

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** Files and folders (recursively, manifest files only, sorted) and `-` for stdin. */
export function readSources(paths: string[], readStdin: () => string): Source[] {
  const out: Source[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ name: '-', text: readStdin() });
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new InjectError('LINNET_INJECT_INPUT', `cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        hint: 'give existing files or folders, or - for stdin',
        cause: err,
      });
    }
    if (st.isDirectory()) {
      const walk = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true })
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : MANIFEST_EXT.test(e.name) ? [join(dir, e.name)] : []));
      for (const f of walk(p)) out.push({ name: f.startsWith('/') ? f : relative('.', f) || f, text: readFileSync(f, 'utf8') });
    } else {
      out.push({ name: p, text: readFileSync(p, 'utf8') });
    }
  }
  return out;
}

export type Transform = (obj: Json, context: { namespaceAnnotations: Record<string, Record<string, string>> }) => Result;

export interface StreamResult {
  output: string;
  reports: Result['report'][];
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as Json)[k], (b as Json)[k]));
}

/**
 * Make `node` (which holds `before`) hold `after`, touching only what differs. Maps are edited
 * key by key; lists keep the nodes of elements that are still there (the sidecar is prepended or
 * appended, the app's containers keep their comments).
 */
function applyDiff(doc: Document, node: YamlNode | null | undefined, before: unknown, after: unknown): YamlNode {
  if (deepEqual(before, after) && node) return node;
  if (isMap(node) && isObject(before) && isObject(after)) {
    for (const key of Object.keys(before)) if (!(key in after)) node.delete(key);
    for (const [key, value] of Object.entries(after)) {
      if (key in before) {
        const child = node.get(key, true) as YamlNode | undefined;
        const next = applyDiff(doc, child, before[key], value);
        if (next !== child) node.set(key, next);
      } else {
        node.set(doc.createNode(key), doc.createNode(value));
      }
    }
    return node;
  }
  if (isSeq(node) && Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    // Same length: element by element (a List whose items were injected in place).
    after.forEach((value, i) => {
      const child = node.items[i] as YamlNode | undefined;
      const next = applyDiff(doc, child, before[i], value);
      if (next !== child) node.items[i] = next;
    });
    return node;
  }
  if (isSeq(node) && Array.isArray(before) && Array.isArray(after)) {
    const used = new Set<number>();
    const items = after.map((value) => {
      const j = before.findIndex((b, i) => !used.has(i) && deepEqual(b, value));
      if (j >= 0) {
        used.add(j);
        return node.items[j];
      }
      return doc.createNode(value);
    });
    // A comment above the first item belongs to the list's first original element, not the sidecar.
    const firstOld = node.items[0] as YamlNode | undefined;
    if (node.commentBefore && firstOld && items[0] !== firstOld && items.includes(firstOld)) {
      firstOld.commentBefore = node.commentBefore;
      node.commentBefore = undefined;
    }
    node.items = items;
    return node;
  }
  return doc.createNode(after) as YamlNode;
}

function isJsonText(text: string): boolean {
  return /^\s*[{[]/.test(text);
}

/** Parse every source, transform every object (List items one by one), and render the stream. */
export function transformSources(sources: Source[], transform: Transform): StreamResult {
  type Parsed = { source: Source; index: number; doc: Document; value: unknown; json: boolean };
  const parsed: Parsed[] = [];
  for (const source of sources) {
    const json = isJsonText(source.text);
    const docs = parseAllDocuments(source.text, { keepSourceTokens: false, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, index) => {
      const where = `${source.name}${list.length > 1 ? ` (document ${index + 1})` : ''}`;
      const err = doc.errors[0];
      if (err) {
        const line = err.linePos?.[0];
        throw new InjectError('LINNET_INJECT_BAD_MANIFEST', `${line ? `line ${line.line}, column ${line.col}: ` : ''}${err.message.split('\n')[0]}`, {
          doc: where,
          hint: 'fix the YAML/JSON syntax',
        });
      }
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) return; // an empty document (a trailing ---)
      if (!isObject(value)) {
        throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'a manifest must be an object with apiVersion and kind', { doc: where, field: '(root)' });
      }
      parsed.push({ source, index, doc, value, json });
    });
  }

  // Namespaces in the same stream lend their annotations to the workloads in them.
  const namespaceAnnotations: Record<string, Record<string, string>> = {};
  for (const p of parsed) {
    const v = p.value as Json;
    if (v.kind === 'Namespace' && isObject(v.metadata) && typeof v.metadata.name === 'string' && isObject(v.metadata.annotations)) {
      namespaceAnnotations[v.metadata.name] = v.metadata.annotations as Record<string, string>;
    }
  }

  const reports: Result['report'][] = [];
  const rendered: string[] = [];
  for (const p of parsed) {
    const where = p.source.name;
    const v = p.value as Json;
    const label = (obj: Json, i?: number) => {
      const meta = isObject(obj.metadata) ? obj.metadata : {};
      const id = `${typeof obj.kind === 'string' ? obj.kind : '<no kind>'} "${typeof meta.name === 'string' ? meta.name : '<unnamed>'}"`;
      return `${where}${p.index > 0 || i !== undefined ? ` (document ${p.index + 1}${i !== undefined ? `, items[${i}]` : ''})` : ''}: ${id}`;
    };
    const run = (obj: Json, i?: number): Result => {
      if (typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') {
        throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'apiVersion and kind must be strings', {
          doc: label(obj, i),
          field: typeof obj.kind !== 'string' ? 'kind' : 'apiVersion',
        });
      }
      try {
        return transform(obj, { namespaceAnnotations });
      } catch (err) {
        if (err instanceof InjectError) throw err.inDocument(label(obj, i));
        throw err;
      }
    };
    let after: unknown;
    if (v.kind === 'List' && Array.isArray(v.items)) {
      const items = v.items.map((item: unknown, i: number) => {
        if (!isObject(item)) throw new InjectError('LINNET_INJECT_BAD_MANIFEST', 'a List item must be an object', { doc: label(v), field: `items[${i}]` });
        const r = run(item, i);
        reports.push(r.report);
        return r.object;
      });
      after = { ...v, items };
    } else {
      const r = run(v);
      reports.push(r.report);
      after = r.object;
    }
    if (p.json) {
      rendered.push(JSON.stringify(after, null, 2) + '\n');
    } else {
      if (!deepEqual(v, after)) p.doc.contents = applyDiff(p.doc, p.doc.contents as YamlNode, v, after) as typeof p.doc.contents;
      rendered.push(p.doc.toString({ lineWidth: 0, flowCollectionPadding: false }));
    }
  }
  // Documents are separated by `---`; a single JSON object stays plain JSON for jq and friends.
  const output = rendered.length === 1 ? rendered[0]! : rendered.map((r, i) => (i === 0 || r.startsWith('---') ? r : `---\n${r}`)).join('');
  return { output, reports };
}
