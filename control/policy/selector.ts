/**
 * Kubernetes label selectors (matchLabels and matchExpressions with In, NotIn, Exists,
 * DoesNotExist), as a Server's podSelector uses them. Pure; all requirements must hold, and an
 * empty selector selects every pod (as Kubernetes reads `podSelector: {}`).
 */
export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: readonly string[];
}

export interface LabelSelector {
  requirements: readonly Requirement[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Reads a selector, adding `path: reason` to `problems` for what cannot be read. */
export function parseSelector(v: unknown, path: string, problems: string[]): LabelSelector {
  const requirements: Requirement[] = [];
  if (!isObj(v)) {
    problems.push(`${path}: expected {matchLabels, matchExpressions}`);
    return { requirements };
  }
  for (const k of Object.keys(v)) if (k !== 'matchLabels' && k !== 'matchExpressions') problems.push(`${path}.${k}: unknown field (allowed: matchLabels, matchExpressions)`);
  const ml = v['matchLabels'];
  if (ml !== undefined && ml !== null) {
    if (!isObj(ml)) problems.push(`${path}.matchLabels: expected a mapping of label to value`);
    else
      for (const [k, val] of Object.entries(ml)) {
        if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') problems.push(`${path}.matchLabels.${k}: expected a string`);
        else requirements.push({ key: k, operator: 'In', values: [String(val)] });
      }
  }
  const me = v['matchExpressions'];
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me)) problems.push(`${path}.matchExpressions: expected a list`);
    else
      me.forEach((e, i) => {
        const p = `${path}.matchExpressions[${i}]`;
        if (!isObj(e)) return void problems.push(`${p}: expected {key, operator, values}`);
        const key = e['key'];
        const op = e['operator'];
        const values = e['values'] ?? [];
        if (typeof key !== 'string' || key === '') return void problems.push(`${p}.key: required`);
        if (!(OPERATORS as readonly unknown[]).includes(op)) return void problems.push(`${p}.operator: ${JSON.stringify(op)} is not one of ${OPERATORS.join(', ')}`);
        if (!Array.isArray(values) || values.some((x) => typeof x !== 'string')) return void problems.push(`${p}.values: expected a list of strings`);
        const needsValues = op === 'In' || op === 'NotIn';
        if (needsValues && values.length === 0) return void problems.push(`${p}.values: ${String(op)} needs at least one value`);
        if (!needsValues && values.length > 0) return void problems.push(`${p}.values: ${String(op)} takes no values`);
        requirements.push({ key, operator: op as Requirement['operator'], values: values as string[] });
      });
  }
  return { requirements };
}

export function selects(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of sel.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = has ? labels[r.key]! : undefined;
    switch (r.operator) {
      case 'In':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'NotIn':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
