import type { Me } from '../model.ts';
import { html, type Html } from './html.ts';

export type Page = 'access' | 'request' | 'approvals' | 'audit' | 'none';

export interface LayoutOptions {
  title: string;
  me?: Me & { name: string };
  csrf?: string;
  active?: Page;
  /** The live view this page subscribes to (Server-Sent Events), e.g. `access`. */
  live?: string;
  /** Pending approvals waiting for this person, shown in the navigation. */
  waiting?: number;
  flash?: { kind: 'ok' | 'error'; text: string };
}

const NAV: [Page, string, string][] = [
  ['access', '/access', 'My access'],
  ['request', '/request', 'Request access'],
  ['approvals', '/approvals', 'Approvals'],
  ['audit', '/audit', 'Audit'],
];

/** Every page: one stylesheet, one small script, no inline script or style (the CSP forbids both). */
export function layout(o: LayoutOptions, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Timebox</title>
<link rel="stylesheet" href="/static/portal.css">
${o.csrf ? html`<meta name="csrf-token" content="${o.csrf}" />` : ''}
<script src="/static/portal.js" defer></script>
</head>
<body${o.live ? html` data-live="${o.live}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Timebox</a>
  ${
    o.me
      ? html`<nav aria-label="Main">
            <ul>
              ${NAV.map(
                ([page, href, label]) =>
                  html`<li>
                    <a href="${href}" ${o.active === page ? html` aria-current="page"` : ''}
                      >${label}${
                        page === 'approvals' && o.waiting
                          ? html` <span class="count" aria-label="${o.waiting} waiting"
                              >${o.waiting}</span
                            >`
                          : ''
                      }</a
                    >
                  </li>`,
              )}
            </ul>
          </nav>
          <div class="who">
            <span title="${o.me.user}${o.me.groups.length ? ` (${o.me.groups.join(', ')})` : ''}"
              >${o.me.name}</span
            >
            <form method="post" action="/logout">
              <input type="hidden" name="_csrf" value="${o.csrf ?? ''}" /><button
                class="link"
                type="submit"
              >
                Sign out
              </button>
            </form>
          </div>`
      : ''
  }
</header>
<main id="main" tabindex="-1">
${o.flash ? html`<p class="flash ${o.flash.kind}" role="${o.flash.kind === 'error' ? 'alert' : 'status'}">${o.flash.text}</p>` : ''}
${body}
</main>
<p class="live-status" id="live-status" role="status" aria-live="polite"></p>
</body>
</html>`;
}

export function errorPage(o: LayoutOptions, what: string, hint?: string): Html {
  return layout(
    o,
    html`<h1>${o.title}</h1>
      <p class="error" role="alert">${what}</p>
      ${hint ? html`<p>${hint}</p>` : ''}`,
  );
}

export function signInPage(returnTo: string, problem?: string): Html {
  return layout(
    { title: 'Sign in', active: 'none' },
    html`<section class="signin">
      <h1>Just-in-time access</h1>
      <p>
        Ask for the access a task needs, for as long as it needs it; approvers decide here too, and
        everything leaves an audit trail.
      </p>
      ${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}
      <p>
        <a class="button primary" href="/login?returnTo=${encodeURIComponent(returnTo)}">Sign in</a>
      </p>
      <p class="muted">
        You sign in with your organisation's account; the portal then acts toward the cluster as
        you, with exactly your permissions.
      </p>
    </section>`,
  );
}
