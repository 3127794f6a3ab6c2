import type { AccessPolicy, AccessTarget } from '../api/v1alpha1/types.ts';
import type { FormContext, FormField } from '../providers/kind.ts';
import { kinds as registered, type AnyKind } from '../providers/kinds.ts';

/**
 * The request form's access fields, one fieldset per registered kind, from what
 * each kind declares (`form`, over its `cli` options): the portal names no
 * provider, so a new kind appears here by registering it.
 */

/** How a field is filled in. */
export type Input = 'select' | 'check' | 'list' | 'text';

export interface FieldChoices {
  /** The kind's CLI option: the field's name and id. */
  option: string;
  label: string;
  hint?: string;
  input: Input;
  /** What the policy offers, as it says it (patterns included), for the policy's card. */
  offered: string[];
  /** A select's choices, or a text input's suggestions: values one can ask for, no patterns. */
  choices: string[];
  /** A select's empty choice. */
  empty: string;
}

export interface KindChoices {
  name: string;
  title: string;
  /** The fields the policy offers anything for. */
  fields: FieldChoices[];
}

type AnyField = FormField<unknown>;

/** The kinds a person can ask for in a form: those with CLI options and a form over them. */
const formKinds = (list: readonly AnyKind[]) =>
  list.flatMap((kind) =>
    kind.cli && kind.form ? [{ kind, cli: kind.cli, form: kind.form as readonly AnyField[] }] : [],
  );

function inputOf(kind: AnyKind, field: AnyField): Input {
  const option = kind.cli?.options[field.option];
  if (option?.type === 'boolean') return 'check';
  if (option?.multiple) return 'list';
  if (field.choose || kind.cli?.values?.[field.option]) return 'select';
  return 'text';
}

const uniq = (xs: readonly string[]) => [...new Set(xs)];

/** Pure: the access fields a policy's allow-list offers, per kind, in the registered order. */
export function kindChoices(
  p: AccessPolicy,
  ctx: FormContext,
  list: readonly AnyKind[] = registered,
): KindChoices[] {
  const entries = p.spec.access as readonly Record<string, unknown>[];
  return formKinds(list).flatMap(({ kind, cli, form }) => {
    const allows = entries.flatMap((a) => (a[kind.name] === undefined ? [] : [a[kind.name]]));
    if (allows.length === 0) return [];
    const fields = form.flatMap((field): FieldChoices[] => {
      const offered = uniq(allows.flatMap((a) => field.offered(a, ctx)));
      if (offered.length === 0) return [];
      const input = inputOf(kind, field);
      const fixed = cli.values?.[field.option];
      const choices = offered.filter((v) => !v.includes('*') && (!fixed || fixed.includes(v)));
      return [
        {
          option: field.option,
          label: field.label,
          ...(field.hint ? { hint: field.hint } : {}),
          input,
          offered,
          choices,
          empty: field.empty ?? '(none)',
        },
      ];
    });
    return fields.length ? [{ name: kind.name, title: kind.title, fields }] : [];
  });
}

/** The kind's error, with its fields' labels where the CLI names its options. */
const inFormWords = (message: string, form: readonly AnyField[]) =>
  message.replace(
    /--([a-z0-9-]+)/g,
    (flag, option: string) => form.find((f) => f.option === option)?.label ?? flag,
  );

/**
 * Pure: the access entries a posted form asks for, each read by its kind's own
 * `cli.parse`, or what is wrong with them. Every registered kind is read, offered
 * by the policy or not: whether the policy allows an entry is the policy
 * evaluation's to say. `label` is a word for the grant's name.
 */
export function entriesFromForm(
  f: Readonly<Record<string, unknown>>,
  namespace: string,
  list: readonly AnyKind[] = registered,
): { access: AccessTarget[]; errors: string[]; label?: string } {
  const access: AccessTarget[] = [];
  const errors: string[] = [];
  let label: string | undefined;
  for (const { kind, cli, form } of formKinds(list)) {
    const values: Record<string, unknown> = {};
    for (const field of form) {
      const raw = Object.hasOwn(f, field.option) ? f[field.option] : undefined;
      const text = typeof raw === 'string' ? raw.trim() : '';
      const input = inputOf(kind, field);
      if (input === 'check') {
        if (text === 'on' || text === 'true') values[field.option] = true;
      } else if (input === 'list') {
        const items = text.split(/[\s,]+/).filter(Boolean);
        if (items.length) values[field.option] = items;
      } else if (text) {
        values[field.option] = text;
      }
    }
    let entry: unknown;
    try {
      entry = cli.parse(values, { namespace });
    } catch (err) {
      errors.push(`${kind.title}: ${inFormWords((err as Error).message, form)}`);
      continue;
    }
    if (entry === undefined) continue;
    access.push({ [kind.name]: entry } as AccessTarget);
    // The grant is named after what was chosen from a list (a role), else the kind.
    const chosen = form.find((x) => x.choose && typeof values[x.option] === 'string');
    label ??= chosen ? (values[chosen.option] as string) : kind.name;
  }
  if (access.length === 0 && errors.length === 0) {
    const titles = formKinds(list).map((k) => k.kind.title);
    errors.push(
      `say what you need: access in ${titles.slice(0, -1).join(', ')}${titles.length > 1 ? ' or ' : ''}${titles.at(-1) ?? ''}`,
    );
  }
  return { access, errors, ...(label ? { label } : {}) };
}
