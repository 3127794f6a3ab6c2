import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's Chromium (hack/setup.sh installs it), or $TIMEBOX_CHROMIUM. Playwright
 * drives it over the DevTools protocol; no browser is downloaded.
 */
export function chromiumPath(env = process.env): string {
  const candidates = [env.TIMEBOX_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    throw new Error(
      "no Chromium found: run npm run setup (it installs Debian's chromium), or set TIMEBOX_CHROMIUM to a Chromium binary",
    );
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    // Containers often lack the user namespaces Chromium's sandbox needs.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** Signs in at the portal through the issuer's own sign-in page, as a person would. */
export async function signInWithBrowser(
  page: Page,
  portalUrl: string,
  who: { user: string; password: string },
  path = '/access',
): Promise<void> {
  await page.goto(`${portalUrl}${path}`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill(who.user);
  await page.getByLabel('Password').fill(who.password);
  await Promise.all([
    page.waitForURL(
      (u) => u.origin === new URL(portalUrl).origin && !u.pathname.startsWith('/callback'),
    ),
    page.getByRole('button', { name: /sign in/i }).click(),
  ]);
}
