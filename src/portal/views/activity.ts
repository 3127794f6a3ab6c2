import type {
  AccessActivityStatus,
  ActivityRequest,
  RightSizing,
} from '../../api/v1alpha1/activity.ts';
import type { ActivityRead } from '../activity.ts';
import { html, type Html } from './html.ts';

/** Rows and list entries shown at once; the rest of a list is one click away, the rest of the counts summed. */
export const ACTIVITY_SHOWN = 10;

const provider = (p: string) => (p === 'kubernetes' ? '' : `${p} `);
const when = (at: string | undefined) => html`<time datetime="${at ?? ''}">${at ?? ''}</time>`;

function requestItem(r: ActivityRequest): Html {
  return html`<li>
    ${when(r.at)} <code>${provider(r.provider)}${r.verb}</code>
    ${r.resource}${r.name ? `/${r.name}` : ''}${r.namespace ? ` in ${r.namespace}` : ''}${
      r.code !== undefined ? html` <span class="muted">(${r.code})</span>` : ''
    }
  </li>`;
}

/** A listed kind of request: the first few, the rest folded, and how many the record did not keep. */
function requestList(
  id: string,
  title: string,
  items: ActivityRequest[] = [],
  omitted = 0,
  note?: Html,
): Html {
  if (!items.length && !omitted) return html``;
  const total = items.length + omitted;
  const rest = items.slice(ACTIVITY_SHOWN);
  return html`<div class="${id}" id="activity-${id}">
    <h3>${title} (${total})</h3>
    ${note ?? ''}
    <ul class="requests">
      ${items.slice(0, ACTIVITY_SHOWN).map(requestItem)}
    </ul>
    ${
      rest.length
        ? html`<details>
            <summary>${rest.length} more</summary>
            <ul class="requests">
              ${rest.map(requestItem)}
            </ul>
          </details>`
        : ''
    }
    ${
      omitted
        ? html`<p class="muted">
            ${omitted} more, not listed: the record keeps only the earliest.
          </p>`
        : ''
    }
  </div>`;
}

function countsTable(s: AccessActivityStatus): Html {
  const counts = s.counts ?? [];
  if (!counts.length) return html``;
  const other =
    counts.slice(ACTIVITY_SHOWN).reduce((n, c) => n + c.count, 0) + (s.otherRequests ?? 0);
  return html`<table class="counts">
    <caption>
      Requests by verb, resource and namespace
    </caption>
    <thead>
      <tr>
        <th scope="col">Count</th>
        <th scope="col">Verb</th>
        <th scope="col">Resource</th>
        <th scope="col">Namespace</th>
      </tr>
    </thead>
    <tbody>
      ${counts.slice(0, ACTIVITY_SHOWN).map(
        (c) =>
          html`<tr>
            <td class="num">${c.count}</td>
            <td>${provider(c.provider)}${c.verb}</td>
            <td>${c.resource}</td>
            <td>${c.namespace ?? html`<span class="muted">(cluster)</span>`}</td>
          </tr>`,
      )}
      ${
        other
          ? html`<tr>
              <td class="num">${other}</td>
              <td colspan="3" class="muted">other</td>
            </tr>`
          : ''
      }
    </tbody>
  </table>`;
}

function rightSizing(r: RightSizing): Html {
  return html`<div class="right-sizing" id="activity-right-sizing">
    <h3>Right-sizing</h3>
    <p>${r.summary}</p>
    ${r.roles.length ? html`<p class="muted">Compared with ${r.roles.join(', ')}.</p>` : ''}
    ${
      r.used.length
        ? html`<ul>
            ${r.used.map(
              (u) =>
                html`<li>
                  ${u.resource}: used ${u.used.join(', ') || 'nothing'}
                  <span class="muted">of ${u.verbs.join(', ')}</span>
                </li>`,
            )}
          </ul>`
        : ''
    }
    ${r.unusedResources.length ? html`<p>Never used: ${r.unusedResources.join(', ')}</p>` : ''}
    ${r.omitted ? html`<p class="muted">${r.omitted} more entries not listed.</p>` : ''}
  </div>`;
}

/**
 * A grant's activity on its page: first and last use, the busiest kinds of
 * request, the writes, the denied attempts (highlighted) and the right-sizing
 * hint once there is one. Nothing at all when the person may not read it.
 */
export function activitySection(read: ActivityRead): Html {
  if (read.state === 'hidden') return html``;
  const body = (inner: Html) =>
    html`<section class="activity" id="activity" aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      ${inner}
    </section>`;
  if (read.state === 'unavailable')
    return body(html`<p class="muted">The activity record could not be read just now.</p>`);
  const s = read.state === 'recorded' ? read.status : {};
  const denied = (s.denied?.length ?? 0) + (s.deniedOmitted ?? 0);
  if (!s.requests && !denied) return body(html`<p class="muted">No requests recorded yet.</p>`);
  return body(html`<dl class="review">
      <dt>Requests</dt>
      <dd>${s.requests ?? 0}</dd>
      ${s.firstUsed ? html`<dt>First use</dt><dd>${when(s.firstUsed)}</dd>` : ''}
      ${s.lastUsed ? html`<dt>Last use</dt><dd>${when(s.lastUsed)}</dd>` : ''}
      ${denied ? html`<dt>Denied attempts</dt><dd class="error">${denied}</dd>` : ''}
      ${s.updatedAt ? html`<dt>Recorded</dt><dd>${when(s.updatedAt)}</dd>` : ''}
    </dl>
    ${countsTable(s)}
    ${requestList(
      'denied',
      'Denied attempts',
      s.denied,
      s.deniedOmitted,
      html`<p>
        Refused by the cluster: a sign that the role is too small for the task, or of probing.
      </p>`,
    )}
    ${requestList('writes', 'Writes and deletes', s.writes, s.writesOmitted)}
    ${s.rightSizing ? rightSizing(s.rightSizing) : ''}`);
}
