import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AdapterName,
  type RunningDemo,
  startDemo,
} from '../../examples/demo/src/start-demo.js';

// The chat page of examples/demo in Debian's chromium (headless), against each adapter. One browser
// for the file, one browser context per test; every wait is bounded by WAIT_MS.
const ADAPTERS: readonly AdapterName[] = ['express', 'koa', 'hono'];
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 5000;
/** Set it to a directory to keep the screenshots (`WSLANE_E2E_SCREENSHOTS=/tmp/shots`). */
const SCREENSHOT_DIR = process.env.WSLANE_E2E_SCREENSHOTS;

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 20_000);
afterAll(async () => {
  await browser?.close();
});

describe.each(ADAPTERS)('chat page on %s', (adapter) => {
  let demo: RunningDemo;
  let context: BrowserContext;
  let pageErrors: Error[];

  beforeEach(async () => {
    demo = await startDemo({ adapter });
    context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    pageErrors = [];
  });
  afterEach(async () => {
    await context.close();
    await demo.close();
    expect(pageErrors).toEqual([]);
  });

  async function openChat(name: string, room = 'lobby'): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error));
    await page.goto(`${demo.url}/?room=${room}&name=${name}`, { timeout: WAIT_MS });
    await waitForState(page, 'online');
    return page;
  }

  it('lets two pages in the same room exchange messages both ways and renders them', async () => {
    const alice = await openChat('alice');
    const bob = await openChat('bob');
    await waitForMembers(alice, ['alice (you)', 'bob']);
    await say(alice, 'hello bob');
    await waitForSaid(bob, 'alice', 'hello bob');
    await say(bob, 'hi alice');
    await waitForSaid(alice, 'bob', 'hi alice');
    await waitForSaid(bob, 'bob', 'hi alice');
    expect(await saidTexts(alice)).toEqual(['hello bob', 'hi alice']);
    expect(await saidTexts(bob)).toEqual(['hello bob', 'hi alice']);
    await expectScreenshot(alice, `chat-${adapter}.png`);
  }, 20_000);

  it("updates a page's members when the other page leaves", async () => {
    const alice = await openChat('alice', 'porch');
    const bob = await openChat('bob', 'porch');
    await waitForMembers(alice, ['alice (you)', 'bob']);
    await waitForMembers(bob, ['alice', 'bob (you)']);
    await bob.close();
    await waitForMembers(alice, ['alice (you)']);
    await alice.getByText('bob left').waitFor({ timeout: WAIT_MS });
  }, 20_000);

  it('reconnects by itself after a server restart, sends what was queued once, and chats', async () => {
    const alice = await openChat('alice');
    const bob = await openChat('bob');
    await waitForMembers(alice, ['alice (you)', 'bob']);

    await demo.close();
    await waitForState(alice, 'offline');
    await waitForState(bob, 'offline');
    await say(alice, 'typed while offline');
    expect(await alice.locator('#outbox li').allTextContents()).toEqual([
      'queued: typed while offline',
    ]);

    demo = await startDemo({ adapter, port: demo.port });
    await waitForState(alice, 'online', 15_000);
    await waitForState(bob, 'online', 15_000);
    await waitForSaid(alice, 'alice', 'typed while offline');
    await waitForMembers(alice, ['alice (you)', 'bob']);
    await say(bob, 'back again');
    await waitForSaid(alice, 'bob', 'back again');
    await say(alice, 'welcome back');
    await waitForSaid(bob, 'alice', 'welcome back');
    await waitForSaid(alice, 'alice', 'welcome back');
    // Every message went out exactly once, the queued one included.
    expect(await saidTexts(alice)).toEqual(['typed while offline', 'back again', 'welcome back']);
    expect(await alice.locator('#outbox li').count()).toBe(0);
    expect(demo.hub.stats().messagesIn).toBe(3);
  }, 20_000);

  it('stops a page replaced by a newer one with the same name, without a reconnect war', async () => {
    const first = await openChat('carol');
    const second = await openChat('carol');
    await waitForState(first, 'replaced');
    await waitForMembers(second, ['carol (you)']);
    await say(second, 'only one carol');
    await waitForSaid(second, 'carol', 'only one carol');
    expect(await first.locator('#reconnect').isVisible()).toBe(true);
    expect(demo.hub.stats()).toMatchObject({ active: 1, created: 2 });
  }, 20_000);
});

/** A full-page PNG of `page` that is not blank; kept in SCREENSHOT_DIR when that is set. */
async function expectScreenshot(page: Page, file: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true, timeout: WAIT_MS });
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  expect(png.readUInt32BE(16)).toBe(1000);
  expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(640);
  // A blank page compresses to a few hundred bytes; text, borders and colours do not.
  expect(png.length).toBeGreaterThan(10_000);
  if (SCREENSHOT_DIR !== undefined) {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await writeFile(join(SCREENSHOT_DIR, file), png);
  }
}

async function waitForState(page: Page, state: string, timeout = WAIT_MS): Promise<void> {
  await page.locator(`#status[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text, { timeout: WAIT_MS });
  await page.press('#text', 'Enter', { timeout: WAIT_MS });
}

async function waitForSaid(page: Page, from: string, text: string): Promise<void> {
  await page
    .locator(`#messages li.said[data-from="${from}"]`, { hasText: text })
    .waitFor({ timeout: WAIT_MS });
}

async function waitForMembers(page: Page, members: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      // Runs in the page; this project's tsconfig has no DOM types.
      const { document } = globalThis as unknown as { document: MembersDocument };
      const shown = [...document.querySelectorAll('#members li')].map((li) => li.textContent);
      return JSON.stringify(shown) === expected;
    },
    JSON.stringify(members),
    { timeout: WAIT_MS },
  );
}

interface MembersDocument {
  querySelectorAll(selector: string): Iterable<{ readonly textContent: string | null }>;
}

async function saidTexts(page: Page): Promise<string[]> {
  return page.locator('#messages li.said .text').allTextContents();
}
