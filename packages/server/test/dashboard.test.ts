/**
 * The dashboard at /ui in a real browser: Debian's Chromium driven by playwright-core, against a
 * Refinery on loopback with a robot at work (the SDK's runtime). Each test leaves a screenshot in
 * test-output/dashboard/. The API routes behind it are tested on both backends in
 * dashboardApi.test.ts; the browser runs against one (PostgreSQL when it answers).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { RecordError, runRobot, silentLogger, type RecordHandler, type RobotHandle } from '@refinery/sdk';
import type { ProvisionedRobot } from '@refinery/protocol';
import { availableBackends } from './support/backends.ts';
import { eventually, openHarness, references, type Harness } from './support/harness.ts';
import { createRequest } from './support/lifecycle.ts';
import { requesterKey } from './support/requestEvents.ts';

const chromiumPath = '/usr/bin/chromium';
const screenshots = fileURLToPath(new URL('../../../test-output/dashboard/', import.meta.url));

describe('the dashboard in a browser', { skip: existsSync(chromiumPath) ? false : `${chromiumPath} is not installed (.ci/run installs it)` }, () => {
  let h: Harness;
  let close: () => Promise<void>;
  let browser: Browser;
  const robots: RobotHandle[] = [];

  before(async () => {
    const backends = await availableBackends();
    const backend = backends.find((b) => b.name === 'postgres') ?? backends[0];
    ({ harness: h, close } = await openHarness(backend));
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await Promise.all(robots.map((r) => r.stop({ timeoutMs: 2000 })));
    await browser?.close();
    await close?.();
  });

  /** A new browser tab signed in with `key` (the admin's by default), on the Requests page. */
  async function signedIn(key = h.adminKey): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (err) => assert.fail(`the page threw: ${err.message}`));
    await page.goto(`${h.url}/`);
    await page.fill('input[name=key]', key!);
    await page.click('button[type=submit]');
    await page.waitForSelector('nav');
    return page;
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

  /** Runs a robot until the test file ends, handling each record with `handler`. */
  function work(robot: ProvisionedRobot, handler: RecordHandler) {
    robots.push(runRobot({ url: h.url, robotId: robot.id, secret: robot.secret, wait: 'PT1S', log: silentLogger, handleSignals: false, handler }));
  }
  const annotation = { type: 'annotation', content: { ok: true } };

  it('signs in with a key; a bad key shows a sign-in error', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${h.url}/`);
    assert.equal(new URL(page.url()).pathname, '/ui/');
    await page.fill('input[name=key]', 'not-a-real-key');
    await page.click('button[type=submit]');
    const alert = await page.waitForSelector('[role=alert]');
    assert.match(await alert.innerText(), /not valid/);
    await shot(page, 'sign-in-bad-key');

    await page.fill('input[name=key]', h.adminKey!);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:has-text("Requests")');
    assert.equal(await page.locator('nav a', { hasText: 'Robots' }).count(), 1, 'an admin sees the Robots page');
    await shot(page, 'signed-in');
  });

  it("moves a request's progress bar to 100% while a robot works", async () => {
    const robot = await h.createRobot({ max_batch_size: 2 });
    const requestId = await createRequest(h, { robot_id: robot.id, record_ids: await h.importRecords(references(12)) });
    const page = await signedIn();
    const bar = page.locator(`tr[data-request-id="${requestId}"] [role=progressbar]`);
    await bar.waitFor();
    assert.equal(await bar.getAttribute('aria-valuenow'), '0');
    work(robot, async () => {
      await new Promise((r) => setTimeout(r, 100));
      return annotation;
    });
    // Seen between the ends, then at the end, with no reload: the stream moves it.
    const seen = new Set<number>();
    await eventually(async () => {
      const value = Number(await bar.getAttribute('aria-valuenow'));
      seen.add(value);
      return value === 100 || undefined;
    }, 30_000, 'the bar at 100%');
    assert.ok([...seen].some((v) => v > 0 && v < 100), `the bar moved through: ${[...seen].join(', ')}`);
    await page.waitForSelector(`tr[data-request-id="${requestId}"] td.status.completed`);
    await shot(page, 'progress-100');
  });

  it("filters a request's items by failed and shows the robot's message, escaped", async () => {
    const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & "quotes"`;
    const robot = await h.createRobot({ max_attempts: 1 });
    const ids = await h.importRecords(references(4));
    const requestId = await createRequest(h, { robot_id: robot.id, record_ids: ids });
    work(robot, (record) => {
      if (record.id === ids[1]) throw new RecordError('the title is missing', { retryable: false });
      if (record.id === ids[2]) throw new RecordError(payload, { retryable: false });
      return annotation;
    });
    await eventually(async () => ((await h.api('GET', `/v1/requests/${requestId}`)).body.status === 'completed_with_errors' ? true : undefined), 30_000, 'the request finished');

    const page = await signedIn();
    await page.goto(`${h.url}/ui/requests/${requestId}`);
    await page.waitForSelector('table.errors');
    assert.match(await page.locator('table.errors').innerText(), /robot_error\s+failed\s+2/);
    await page.selectOption('select[name=item-status]', 'failed');
    await eventually(async () => ((await page.locator('table.items tbody tr').count()) === 2 ? true : undefined), 10_000, 'two failed items');
    const messages = await page.locator('table.items td.message').allInnerTexts();
    assert.deepEqual(messages.sort(), [payload, 'the title is missing'].sort());
    assert.equal(await page.locator('table.items img, table.items script').count(), 0, 'the payload is text, not markup');
    assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined, 'no script of the payload ran');
    assert.match(page.url(), /status=failed/);
    await shot(page, 'items-failed-escaped');
  });

  it('cancels a request from its page', async () => {
    const robot = await h.createRobot();
    const requestId = await createRequest(h, { robot_id: robot.id, record_ids: await h.importRecords(references(5)) });
    const page = await signedIn();
    await page.goto(`${h.url}/ui/requests/${requestId}`);
    await page.click('button:has-text("Cancel request")');
    await page.waitForSelector('[data-testid=request-status]:has-text("cancelled")');
    assert.equal(await page.locator('td[data-count=cancelled]').innerText(), '5');
    assert.equal((await h.api('GET', `/v1/requests/${requestId}`)).body.status, 'cancelled');
    await shot(page, 'cancelled');
  });

  it("retries a finished request's failed items from its page", async () => {
    const robot = await h.createRobot({ max_attempts: 1 });
    const ids = await h.importRecords(references(3));
    const requestId = await createRequest(h, { robot_id: robot.id, record_ids: ids });
    let firstRound = true;
    work(robot, (record) => {
      if (firstRound && record.id === ids[0]) throw new RecordError('upstream was down', { retryable: false });
      return annotation;
    });
    await eventually(async () => ((await h.api('GET', `/v1/requests/${requestId}`)).body.status === 'completed_with_errors' ? true : undefined), 30_000, 'the request finished');
    firstRound = false;

    const page = await signedIn();
    await page.goto(`${h.url}/ui/requests/${requestId}`);
    await page.click('button:has-text("Retry failed items")');
    await page.waitForURL((url) => url.pathname.startsWith('/ui/requests/') && !url.pathname.endsWith(requestId));
    const retryId = page.url().split('/').pop()!;
    await page.waitForSelector(`a[href="/ui/requests/${requestId}"]`);
    await page.waitForSelector('[data-testid=request-status]:has-text("completed")');
    const retry = (await h.api('GET', `/v1/requests/${retryId}`)).body;
    assert.equal(retry.retry_of, requestId);
    assert.equal(retry.total, 1);
    await shot(page, 'retried');
  });

  it('pauses a robot from the Robots page', async () => {
    const robot = await h.createRobot();
    const page = await signedIn();
    await page.click('nav a:has-text("Robots")');
    const row = page.locator(`tr[data-robot="${robot.name}"]`);
    await row.locator('button:has-text("Pause")').click();
    await row.locator('td.state:has-text("paused")').waitFor();
    assert.equal((await h.api('GET', `/v1/robots/${robot.id}`)).body.active, false);
    await row.locator('button:has-text("Resume")').waitFor();
    await shot(page, 'robot-paused');

    // A new secret, shown once.
    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button:has-text("Rotate secret")').click();
    const secret = await page.locator('[data-testid=new-secret]').innerText();
    assert.ok(secret.length >= 20 && secret !== robot.secret, 'a new secret');
    await shot(page, 'robot-secret-rotated');
    await page.click('button:has-text("Done")');
    assert.equal(await page.locator('[data-testid=new-secret]').count(), 0, 'shown once');
  });

  it('shows the overview: the queue by robot and priority, the oldest pending item, the last hour', async () => {
    const robot = await h.createRobot();
    await createRequest(h, { robot_id: robot.id, record_ids: await h.importRecords(references(3)), priority: 'high' });
    const page = await signedIn();
    await page.click('nav a:has-text("Overview")');
    const row = page.locator('table.queue tr', { hasText: robot.name });
    await row.waitFor();
    assert.match(await row.innerText(), /high\s+3/);
    assert.notEqual(await page.locator('[data-testid=oldest-pending]').innerText(), '—');
    // The plot when anything finished in the last hour (the tests before this one), else a line saying so.
    await page.locator('section:has(h2:has-text("Items finished")) :is(.chart canvas, p.empty)').first().waitFor();
    await shot(page, 'overview');
  });

  it("does not show a requester another requester's request", async () => {
    const robot = await h.createRobot();
    const alice = await requesterKey(h, 'alice');
    const bob = await requesterKey(h, 'bob');
    const aliceRequest = await createRequest(h, { robot_id: robot.id, record_ids: await h.importRecords(references(1)) }, alice);
    const bobRequest = await createRequest(h, { robot_id: robot.id, record_ids: await h.importRecords(references(1)) }, bob);

    const page = await signedIn(bob);
    await page.waitForSelector(`tr[data-request-id="${bobRequest}"]`);
    assert.equal(await page.locator(`tr[data-request-id="${aliceRequest}"]`).count(), 0);
    assert.equal(await page.locator('nav a', { hasText: 'Robots' }).count(), 0, 'a requester has no Robots page');
    await shot(page, 'requester-own-requests');
    await page.goto(`${h.url}/ui/requests/${aliceRequest}`);
    const alert = await page.waitForSelector('[role=alert]');
    assert.match(await alert.innerText(), /not_found/);
    await shot(page, 'requester-other-request');
  });
});
