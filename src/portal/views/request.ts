import type { AccessPolicy } from '../../api/v1alpha1/types.ts';
import type { FieldChoices, KindChoices } from '../access-fields.ts';
import { policyChoices, type Me, type PolicyChoices, type RequestForm } from '../model.ts';
import { html, type Html } from './html.ts';
import { csrfField } from './grants.ts';

/** What a kind's fields offer, as the policy says it, e.g. `ClusterRole: view, edit; Cluster-wide`. */
const offers = (k: KindChoices) =>
  k.fields
    .map((f) => (f.input === 'check' ? f.label : `${f.label}: ${f.offered.join(', ')}`))
    .join('; ');

function policyCard(c: PolicyChoices): Html {
  return html`<article class="card">
    <h2><a href="/request?policy=${encodeURIComponent(c.name)}">${c.name}</a></h2>
    <dl class="review">
      ${c.kinds.map((k) => html`<dt>${k.title}</dt><dd>${offers(k)}</dd>`)}
      <dt>At most</dt>
      <dd>${c.maxDuration}</dd>
      <dt>Reason</dt>
      <dd>${c.requireReason ? 'required' : 'optional'}</dd>
      <dt>Approval</dt>
      <dd>${c.approval}</dd>
    </dl>
    <p>
      <a class="button" href="/request?policy=${encodeURIComponent(c.name)}"
        >Request under ${c.name}</a
      >
    </p>
  </article>`;
}

export function choosePolicyPage(eligible: AccessPolicy[], me: Me): Html {
  return html`<h1>Request access</h1>
    ${
      eligible.length
        ? html`<p class="muted">
              The policies you may request under. Each says what it hands out, for how long, and who
              approves.
            </p>
            <div class="cards">${eligible.map((p) => policyCard(policyChoices(p, me)))}</div>`
        : html`<p id="empty">
            No AccessPolicy lists you as a requester. Ask your platform team which policy covers
            your work.
          </p>`
    }`;
}

const options = (values: string[], selected?: string) =>
  values.map(
    (v) => html`<option value="${v}" ${v === selected ? html` selected` : ''}>${v}</option>`,
  );

const datalist = (id: string, values: string[]) =>
  values.length
    ? html`<datalist id="${id}">
        ${values.map((v) => html`<option value="${v}"></option>`)}
      </datalist>`
    : '';

const posted = (form: RequestForm, name: string) => {
  const v = form[name];
  return typeof v === 'string' ? v : undefined;
};

/** One access field, as its kind declares it; `value` is what it holds. */
function field(f: FieldChoices, value: string | undefined): Html {
  const hint = f.hint ? html` <span class="muted">(${f.hint})</span>` : '';
  if (f.input === 'check') {
    return html`<label class="check"
      ><input type="checkbox" id="${f.option}" name="${f.option}" ${value ? html` checked` : ''} />
      ${f.label}${hint}</label
    >`;
  }
  const label = html`<label for="${f.option}">${f.label}${hint}</label>`;
  if (f.input === 'select') {
    return html`${label}<select id="${f.option}" name="${f.option}">
        <option value="">${f.empty}</option>
        ${options(f.choices, value)}
      </select>`;
  }
  return html`${label}<input
      id="${f.option}"
      name="${f.option}"
      value="${value ?? ''}"
      list="${f.option}-list"
      autocomplete="off"
    />${datalist(`${f.option}-list`, f.choices)}`;
}

/**
 * A kind's fieldset. `preselect`: the policy hands out this kind only and nothing
 * was posted yet, so its first field, a select, starts on its first choice.
 */
function kindFieldset(k: KindChoices, form: RequestForm, preselect: boolean): Html {
  return html`<fieldset>
    <legend>${k.title}</legend>
    ${k.fields.map((f, i) =>
      field(
        f,
        posted(form, f.option) ??
          (preselect && i === 0 && f.input === 'select' ? f.choices[0] : undefined),
      ),
    )}
  </fieldset>`;
}

/** The form for one policy, built from its allow-list; `form` refills it after a refusal. */
export function requestForm(
  c: PolicyChoices,
  csrf: string,
  form: RequestForm = {},
  problems: string[] = [],
): Html {
  const anyNamespace = c.namespaces.includes('*');
  return html`<h1>Request access under ${c.name}</h1>
    <p class="muted">At most ${c.maxDuration}; ${c.approval}.</p>
    <div id="check" class="${problems.length ? 'error' : ''}" role="alert" aria-live="assertive">
      ${
        problems.length
          ? html`<ul>
              ${problems.map((p) => html`<li>${p}</li>`)}
            </ul>`
          : ''
      }
    </div>
    <form method="post" action="/request" class="request" id="request-form" novalidate>
      ${csrfField(csrf)}<input type="hidden" name="policy" value="${c.name}" />
      <fieldset>
        <legend>Where the request lives</legend>
        <label for="namespace">Namespace</label>
        ${
          anyNamespace
            ? html`<input
                id="namespace"
                name="namespace"
                required
                value="${form.namespace ?? ''}"
                autocomplete="off"
              />`
            : html`<select id="namespace" name="namespace">
                ${options(c.namespaces, form.namespace)}
              </select>`
        }
      </fieldset>
      ${c.kinds.map((k) => kindFieldset(k, form, c.kinds.length === 1 && !form.policy))}
      <fieldset>
        <legend>For how long, and why</legend>
        <label for="duration"
          >Duration <span class="muted">(at most ${c.maxDuration}; e.g. 30m, 1h30m)</span></label
        >
        <input
          id="duration"
          name="duration"
          required
          value="${form.duration ?? c.durations.at(-1) ?? c.maxDuration}"
          list="durations"
          autocomplete="off"
        />
        ${datalist('durations', c.durations)}
        <label for="reason">Reason${c.requireReason ? ' (required)' : ''}</label>
        <textarea id="reason" name="reason" rows="3" ${c.requireReason ? html` required` : ''}>
${form.reason ?? ''}</textarea>
      </fieldset>
      <button type="submit" class="primary">Request</button>
    </form>`;
}
