import { describeTarget } from '../../api/v1alpha1/describe.ts';
import { isTerminal, type AccessGrant } from '../../api/v1alpha1/types.ts';
import { specHash } from '../../policy/evaluate.ts';
import { cannotDecide, type Me } from '../model.ts';
import { html, type Html } from './html.ts';

export const grantPath = (g: AccessGrant) =>
  `/grants/${encodeURIComponent(g.metadata.namespace ?? '')}/${encodeURIComponent(g.metadata.name ?? '')}`;

const requestedBy = (g: AccessGrant) =>
  g.status?.requestedBy ?? g.metadata.annotations?.['timebox.dev/requested-by'] ?? '';

export function phaseBadge(g: AccessGrant): Html {
  const phase =
    g.metadata.deletionTimestamp && !isTerminal(g.status?.phase)
      ? 'Ending'
      : (g.status?.phase ?? 'New');
  return html`<span class="phase phase-${phase}" data-phase="${phase}">${phase}</span>`;
}

/** Why a grant is where it is: the Ready condition's message (why Pending, Denied or Failed). */
export function readyMessage(g: AccessGrant): string {
  return g.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
}

/** When access ends, or ended: a countdown the page's script keeps ticking. */
export function timing(g: AccessGrant): Html {
  const s = g.status;
  if (s?.phase === 'Active' && s.expiresAt) {
    return html`<time class="countdown" datetime="${s.expiresAt}" data-expires="${s.expiresAt}"
      >until ${s.expiresAt}</time
    >`;
  }
  if (s?.endedAt) return html`<span>ended <time datetime="${s.endedAt}">${s.endedAt}</time></span>`;
  if (s?.phase === 'Pending') return html`<span>${g.spec.duration} once approved</span>`;
  return html`<span>${g.spec.duration}</span>`;
}

/** The access asked for, with each granted target's state and whether the cloud enforces its expiry. */
export function accessList(g: AccessGrant): Html {
  const targets = g.status?.targets ?? [];
  return html`<ul class="access">
      ${g.spec.access.map((t) => html`<li>${describeTarget(t)}</li>`)}
    </ul>
    ${
      targets.length
        ? html`<ul class="targets">
            ${targets.map(
              (t) =>
                html`<li>
                  <span class="target-state state-${t.state}">${t.state}</span> ${t.provider}
                  ${t.ref}
                  ${
                    t.failSafe
                      ? html`<span
                          class="badge failsafe"
                          title="The cloud itself removes this access at expiry, even if Timebox is down"
                          >fail-safe expiry</span
                        >`
                      : html`<span class="badge" title="Timebox removes this access at expiry"
                          >removed by Timebox</span
                        >`
                  }${t.message ? html` <span class="muted">${t.message}</span>` : ''}
                </li>`,
            )}
          </ul>`
        : ''
    }`;
}

export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}" />`;
}

/**
 * Revoke: the requester ends their own grant; an approver of its policy ends
 * someone else's, saying why. Nobody else is offered the button.
 */
export function revokeForm(g: AccessGrant, me: Me, csrf: string, approver = false): Html {
  const phase = g.status?.phase;
  if (phase !== 'Active' && phase !== 'Pending') return html``;
  if (g.spec.revoked || g.metadata.deletionTimestamp) return html``;
  const own = requestedBy(g) === me.user;
  if (!own && !approver) return html``;
  return html`<form method="post" action="${grantPath(g)}/revoke" class="inline">
    ${csrfField(csrf)}<input type="hidden" name="uid" value="${g.metadata.uid}" />
    ${own ? '' : html`<label>Why <input name="comment" required /></label>`}
    <button type="submit" class="danger">${phase === 'Pending' ? 'Withdraw' : 'Revoke'}</button>
  </form>`;
}

/** One row of "My access"; the live view replaces it in place. */
export function grantRow(g: AccessGrant, me: Me, csrf: string): Html {
  const why = readyMessage(g);
  return html`<tr id="g-${g.metadata.uid}" data-phase="${g.status?.phase ?? ''}">
    <td>
      <a href="${grantPath(g)}">${g.metadata.name}</a>
      <div class="muted">${g.metadata.namespace}</div>
    </td>
    <td>${accessList(g)}</td>
    <td>${g.spec.policy}</td>
    <td>
      ${phaseBadge(g)}${why && g.status?.phase !== 'Active' ? html`<div class="muted why">${why}</div>` : ''}
    </td>
    <td>${timing(g)}</td>
    <td>${revokeForm(g, me, csrf)}</td>
  </tr>`;
}

export function accessPage(grants: AccessGrant[], me: Me, csrf: string): Html {
  return html`<h1>My access</h1>
    <p class="muted">What you asked for or hold, live: this page changes as the operator acts.</p>
    ${
      grants.length
        ? ''
        : html`<p id="empty">
            You have no access grants yet. <a href="/request">Request access</a>.
          </p>`
    }
    <table class="grants" id="grants">
      <caption class="sr-only">
        Your access grants
      </caption>
      <thead>
        <tr>
          <th scope="col">Grant</th>
          <th scope="col">Access</th>
          <th scope="col">Policy</th>
          <th scope="col">State</th>
          <th scope="col">Time</th>
          <th scope="col"><span class="sr-only">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${grants.map((g) => grantRow(g, me, csrf))}
      </tbody>
    </table>`;
}

/** What an approver reviews, in full and in words: the same facts `timebox approve` prints. */
export function reviewList(g: AccessGrant): Html {
  const s = g.spec.subject;
  return html`<dl class="review">
    <dt>Requested by</dt>
    <dd>${requestedBy(g) || '(unknown)'}</dd>
    <dt>Subject</dt>
    <dd>${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}</dd>
    <dt>Access</dt>
    <dd>
      <ul class="access">
        ${g.spec.access.map((t) => html`<li>${describeTarget(t)}</li>`)}
      </ul>
    </dd>
    <dt>Duration</dt>
    <dd>${g.spec.duration}${g.spec.startAt ? `, from ${g.spec.startAt}` : ', from approval'}</dd>
    <dt>Reason</dt>
    <dd class="reason">${g.spec.reason?.trim() || '(none given)'}</dd>
    <dt>Policy</dt>
    <dd>${g.spec.policy}</dd>
    <dt>Namespace</dt>
    <dd>${g.metadata.namespace}</dd>
    <dt>Requested</dt>
    <dd>
      <time datetime="${String(g.metadata.creationTimestamp ?? '')}"
        >${String(g.metadata.creationTimestamp ?? '')}</time
      >
    </dd>
    <dt>Spec hash</dt>
    <dd><code title="${specHash(g.spec)}">${specHash(g.spec).slice(0, 12)}</code></dd>
  </dl>`;
}

/** Approve or deny, bound to the UID and spec hash of exactly the version on the page. */
export function decisionForm(g: AccessGrant, csrf: string): Html {
  const id = `comment-${g.metadata.uid}`;
  return html`<form method="post" action="${grantPath(g)}/decision" class="decision">
    ${csrfField(csrf)}<input type="hidden" name="uid" value="${g.metadata.uid}" /><input
      type="hidden"
      name="specHash"
      value="${specHash(g.spec)}"
    />
    <label for="${id}">Comment <span class="muted">(required to deny)</span></label>
    <textarea id="${id}" name="comment" rows="2"></textarea>
    <div class="buttons">
      <button type="submit" name="decision" value="Approve" class="primary">Approve</button>
      <button type="submit" name="decision" value="Deny" class="danger">Deny</button>
    </div>
  </form>`;
}

/** `activity`: the grant's activity section (views/activity.ts), when the person may read it. */
export function detailPage(
  g: AccessGrant,
  me: Me,
  csrf: string,
  mayDecide: boolean,
  activity?: Html,
): Html {
  const s = g.status ?? {};
  const notMine = cannotDecide(g, me);
  return html`<h1>${g.metadata.name} <span id="phase-${g.metadata.uid}">${phaseBadge(g)}</span></h1>
    <section id="d-${g.metadata.uid}" class="detail">
      ${reviewList(g)}
      <h2>State</h2>
      <dl class="review">
        <dt>State</dt>
        <dd>${phaseBadge(g)} ${readyMessage(g)}</dd>
        <dt>Time</dt>
        <dd>${timing(g)}</dd>
        ${
          s.activatedAt
            ? html`<dt>Activated</dt>
                <dd><time datetime="${s.activatedAt}">${s.activatedAt}</time></dd>`
            : ''
        }
      </dl>
      ${accessList(g)}
      <h2>Decisions</h2>
      ${
        (s.approvals ?? []).length
          ? html`<ul>
              ${(s.approvals ?? []).map((a) => html`<li>${a.decision} by ${a.approver} at <time datetime="${a.at}">${a.at}</time>${a.comment ? html`: “${a.comment}”` : ''}</li>`)}
            </ul>`
          : html`<p class="muted">None counted yet.</p>`
      }
      <h2>History</h2>
      <table>
        <caption class="sr-only">
          History of this grant
        </caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">State</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          ${(s.history ?? []).map(
            (h) =>
              html`<tr>
                <td><time datetime="${h.at}">${h.at}</time></td>
                <td>${h.phase}</td>
                <td>${h.reason}${h.message ? html`: ${h.message}` : ''}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <div class="actions">${revokeForm(g, me, csrf, mayDecide)}</div>
      ${
        s.phase === 'Pending' && mayDecide
          ? notMine
            ? html`<p class="muted">You cannot decide on this request: ${notMine}.</p>`
            : decisionForm(g, csrf)
          : ''
      }
    </section>
    ${activity ?? ''}`;
}
