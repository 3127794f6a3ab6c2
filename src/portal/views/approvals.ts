import type { AccessGrant, AccessPolicy } from '../../api/v1alpha1/types.ts';
import { html, type Html } from './html.ts';
import { decisionForm, grantPath, reviewList } from './grants.ts';

/** One request waiting for this approver, in full, with the form bound to this version. */
export function approvalCard(g: AccessGrant, policy: AccessPolicy | undefined, csrf: string): Html {
  const counted = (g.status?.approvals ?? []).filter((a) => a.decision === 'Approve').length;
  const required = policy?.spec.approval.required ?? 1;
  const subject = g.spec.subject.name;
  return html`<article class="card" id="a-${g.metadata.uid}" aria-labelledby="h-${g.metadata.uid}">
    <h2 id="h-${g.metadata.uid}">
      <a href="${grantPath(g)}">${g.metadata.namespace}/${g.metadata.name}</a>: ${subject}
    </h2>
    ${reviewList(g)}
    <p class="muted">${counted} of ${required} approval${required > 1 ? 's' : ''} so far.</p>
    ${decisionForm(g, csrf)}
  </article>`;
}

export function approvalsPage(
  waiting: AccessGrant[],
  policies: ReadonlyMap<string, AccessPolicy>,
  csrf: string,
  approverOfAny: boolean,
): Html {
  return html`<h1>Approvals</h1>
    <p class="muted">
      Requests waiting for your decision, live. Your decision counts for exactly the version shown:
      if the request changes, it counts for nothing.
    </p>
    <div id="approvals">
      ${
        waiting.length
          ? waiting.map((g) => approvalCard(g, policies.get(g.spec.policy), csrf))
          : html`<p id="empty">
              ${approverOfAny ? 'Nothing waits for your decision.' : 'You approve under no AccessPolicy.'}
            </p>`
      }
    </div>`;
}

/** What replaces a card once the request no longer waits for this approver. */
export function decidedNote(g: AccessGrant): Html {
  return html`<article class="card done" id="a-${g.metadata.uid}">
    <p>
      <a href="${grantPath(g)}">${g.metadata.namespace}/${g.metadata.name}</a> no longer waits for
      you: it is ${g.status?.phase ?? 'gone'}.
    </p>
  </article>`;
}
