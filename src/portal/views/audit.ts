import { PHASES, type AccessGrant } from '../../api/v1alpha1/types.ts';
import { auditRecord, type AuditFilter } from '../audit.ts';
import { html, type Html } from './html.ts';
import { grantPath, phaseBadge } from './grants.ts';

export function auditPage(
  grants: AccessGrant[],
  f: AuditFilter,
  query: string,
  policies: string[],
  problem?: string,
  scope?: string,
): Html {
  return html`<h1>Audit</h1>
    <p class="muted">Every grant you may read${scope ? ` (${scope})` : ''}, newest first.</p>
    <form method="get" action="/audit" class="filters" role="search">
      <label for="who">Who</label
      ><input id="who" name="who" value="${f.who ?? ''}" placeholder="requester or subject" />
      <label for="policy">Policy</label
      ><select id="policy" name="policy">
        <option value="">(any)</option>
        ${policies.map((p) => html`<option${p === f.policy ? html` selected` : ''}>${p}</option>`)}
      </select>
      <label for="phase">State</label
      ><select id="phase" name="phase">
        <option value="">(any)</option>
        ${PHASES.map((p) => html`<option${p === f.phase ? html` selected` : ''}>${p}</option>`)}
      </select>
      <label for="from">From</label
      ><input id="from" name="from" type="date" value="${f.from?.slice(0, 10) ?? ''}" />
      <label for="to">To</label
      ><input id="to" name="to" type="date" value="${f.to?.slice(0, 10) ?? ''}" />
      <button type="submit">Filter</button>
    </form>
    ${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}
    <p>
      ${grants.length} grant${grants.length === 1 ? '' : 's'}. Export:
      <a href="/audit.csv${query}" download>CSV</a> ·
      <a href="/audit.json${query}" download>JSON</a>
    </p>
    <table class="audit">
      <caption class="sr-only">
        Access grants
      </caption>
      <thead>
        <tr>
          <th scope="col">Created</th>
          <th scope="col">Grant</th>
          <th scope="col">Requested by</th>
          <th scope="col">Subject</th>
          <th scope="col">Policy</th>
          <th scope="col">Access</th>
          <th scope="col">State</th>
          <th scope="col">Approved by</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        ${grants.map((g) => {
          const r = auditRecord(g);
          return html`<tr>
            <td><time datetime="${r.created}">${r.created}</time></td>
            <td><a href="${grantPath(g)}">${r.namespace}/${r.name}</a></td>
            <td>${r.requestedBy}</td>
            <td>${r.subject}</td>
            <td>${r.policy}</td>
            <td>${r.access.join('; ')} for ${r.duration}</td>
            <td>${phaseBadge(g)}</td>
            <td>${r.approvedBy.join(', ')}</td>
            <td>${r.reason}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
}
