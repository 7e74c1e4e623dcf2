import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

/** A headless Chromium page for the console tests, with the page's console errors collected. */
export interface TestBrowser {
  page: Page;
  /** Console errors and uncaught page errors, in order (a test asserts it stays empty). */
  consoleErrors: string[];
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/**
 * Starts the system Chromium (installed by `.ci/run`) with a throw-away profile.
 *
 * @param height - the viewport height (the width is 1440)
 * @returns the page and what it logged
 */
export async function openBrowser(height: number): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'dream-ui-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1440, height },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  return {
    page,
    consoleErrors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
