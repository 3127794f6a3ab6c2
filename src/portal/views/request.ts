import type { AccessPolicy } from '../../api/v1alpha1/types.ts';
import { policyChoices, type PolicyChoices, type RequestForm } from '../model.ts';
import { html, type Html } from './html.ts';
import { csrfField } from './grants.ts';

function policyCard(c: PolicyChoices): Html {
  return html`<article class="card">
    <h2><a href="/request?policy=${encodeURIComponent(c.name)}">${c.name}</a></h2>
    <dl class="review">
      ${
        c.roles.length
          ? html`<dt>Roles</dt>
              <dd>
                ${c.roles.join(', ')}${c.targetNamespaces.length ? ` in ${c.targetNamespaces.join(', ')}` : ''}${c.clusterWide ? ', or cluster-wide' : ''}
              </dd>`
          : ''
      }
      ${
        c.aws
          ? html`<dt>AWS</dt>
              <dd>${c.aws.policyArns.join(', ') || c.aws.groupArns.join(', ')}</dd>`
          : ''
      }
      ${
        c.gcp
          ? html`<dt>GCP</dt>
              <dd>${c.gcp.roles.join(', ')} on ${c.gcp.resources.join(', ')}</dd>`
          : ''
      }
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

export function choosePolicyPage(eligible: AccessPolicy[]): Html {
  return html`<h1>Request access</h1>
    ${
      eligible.length
        ? html`<p class="muted">
              The policies you may request under. Each says what it hands out, for how long, and who
              approves.
            </p>
            <div class="cards">${eligible.map((p) => policyCard(policyChoices(p)))}</div>`
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

/** The form for one policy, built from its allow-list; `form` refills it after a refusal. */
export function requestForm(
  c: PolicyChoices,
  csrf: string,
  form: RequestForm = {},
  problems: string[] = [],
): Html {
  const anyNamespace = c.namespaces.includes('*');
  const anyTarget = c.targetNamespaces.includes('*');
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
      ${
        c.roles.length
          ? html`<fieldset>
              <legend>Kubernetes</legend>
              <label for="role">Role</label>
              <select id="role" name="role">
                <option value="">(none)</option>
                ${options(c.roles, form.role ?? c.roles[0])}
              </select>
              <label for="targetNamespaces"
                >In namespaces
                <span class="muted"
                  >(comma-separated; the request's namespace when empty)</span
                ></label
              >
              <input
                id="targetNamespaces"
                name="targetNamespaces"
                value="${form.targetNamespaces ?? ''}"
                list="target-ns"
                autocomplete="off"
              />
              ${datalist('target-ns', anyTarget ? [] : c.targetNamespaces)}
              ${c.clusterWide ? html`<label class="check"><input type="checkbox" name="clusterWide" ${form.clusterWide ? html` checked` : ''} /> Cluster-wide</label>` : ''}
            </fieldset>`
          : ''
      }
      ${
        c.aws
          ? html`<fieldset>
              <legend>AWS</legend>
              <label for="awsPrincipal">Principal ARN</label
              ><input
                id="awsPrincipal"
                name="awsPrincipal"
                value="${form.awsPrincipal ?? ''}"
                list="aws-principals"
                autocomplete="off"
              />${datalist('aws-principals', c.aws.principalArns)}
              <label for="awsPolicy">Policy ARN</label
              ><input
                id="awsPolicy"
                name="awsPolicy"
                value="${form.awsPolicy ?? ''}"
                list="aws-policies"
                autocomplete="off"
              />${datalist('aws-policies', c.aws.policyArns)}
              ${c.aws.groupArns.length ? html`<label for="awsGroup">Group ARN</label><input id="awsGroup" name="awsGroup" value="${form.awsGroup ?? ''}" list="aws-groups" autocomplete="off" />${datalist('aws-groups', c.aws.groupArns)}` : ''}
              <label for="awsMode">Mode</label
              ><select id="awsMode" name="awsMode">
                ${options(c.aws.modes, form.awsMode)}
              </select>
            </fieldset>`
          : ''
      }
      ${
        c.gcp
          ? html`<fieldset>
              <legend>Google Cloud</legend>
              <label for="gcpResource">Resource</label
              ><input
                id="gcpResource"
                name="gcpResource"
                value="${form.gcpResource ?? ''}"
                list="gcp-resources"
                autocomplete="off"
              />${datalist('gcp-resources', c.gcp.resources)} <label for="gcpRole">Role</label
              ><input
                id="gcpRole"
                name="gcpRole"
                value="${form.gcpRole ?? ''}"
                list="gcp-roles"
                autocomplete="off"
              />${datalist('gcp-roles', c.gcp.roles)} <label for="gcpMember">Member</label
              ><input
                id="gcpMember"
                name="gcpMember"
                value="${form.gcpMember ?? ''}"
                list="gcp-members"
                autocomplete="off"
              />${datalist('gcp-members', c.gcp.members)}
            </fieldset>`
          : ''
      }
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
