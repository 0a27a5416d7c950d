/**
 * The HTML report in a real headless browser (Debian's chromium, driven by
 * playwright-core): rendered from recorded runs, and the one shared run A
 * wrote live, opened from disk with the network blocked, checked for its
 * tables and plots, and kept as a screenshot in test-artifacts/.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';
import { cli, tempDir } from './helpers.ts';
import { sharedRun } from './shared.ts';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');

describe('HTML report in chromium', () => {
  let browser: Browser;
  const dir = tempDir('kharness-html-');
  const requests: string[] = [];

  beforeAll(async () => {
    copyFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'results-6.1-x86_64.jsonl'), join(dir, 'results.jsonl'));
    const r = await cli(['report', dir, '--reporter', 'html'], { timeoutMs: 60_000 });
    expect(r.exitCode, r.all).toBe(0);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('renders the claims table, the verdict matrix and the plots without touching the network', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.route(/^(?!file:)/, (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    await page.goto(`file://${join(dir, 'report.html')}`);
    expect(await page.locator('#claims tr').count()).toBe(16);
    expect(await page.locator('#claims tr:has-text("kmalloc-128k-limit") td.fails').count()).toBe(1);
    expect(await page.locator('#verdict-matrix td.pass').count()).toBe(8);
    const charts = page.locator('svg.chart');
    expect(await charts.count()).toBe(3);
    // kmalloc and vmalloc cost series, drawn with real extent.
    const series = page.locator('svg.chart polyline.series');
    expect(await series.count()).toBe(2);
    const box = await series.first().boundingBox();
    expect(box!.width).toBeGreaterThan(100);
    expect(await page.locator('svg.chart rect.bar').count()).toBeGreaterThan(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: false });
    await page
      .locator('svg.chart')
      .first()
      .screenshot({ path: join(ARTIFACTS, 'report-cost-chart.png') });
    // Evidence links lead to the step, one click away behind each cell's "evidence".
    const cell = page.locator('#claims tr:has-text("vmalloc-may-sleep") td.holds').first();
    await cell.locator('summary').click();
    await cell.locator('a', { hasText: 'vmalloc in hard IRQ kills the kernel' }).click();
    expect(page.url()).toMatch(/#step-x86_64-6-1-vmalloc-in-irq-/);
    expect(requests).toEqual([]);
  });

  it.each([
    ['desktop', 1280],
    ['narrow', 420],
  ])("states each claim cell's deciding numbers and overflows nothing (%s, %i px)", async (name, width) => {
    const d = tempDir('kharness-html-');
    copyFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'results-claims-4k-64k.jsonl'), join(d, 'results.jsonl'));
    const r = await cli(['report', d, '--reporter', 'html'], { timeoutMs: 60_000 });
    expect(r.exitCode, r.all).toBe(0);
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.route(/^(?!file:)/, (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    await page.goto(`file://${join(d, 'report.html')}`);
    // The summary comes first.
    const first = await page.locator('h1 ~ *').nth(1).getAttribute('id');
    expect(first).toBe('claims-summary');
    await expect.poll(() => page.locator('#claims-summary').textContent()).toMatch(/arm64\/6\.1-64k\s*4 hold, 2 fail/);
    const row = page.locator('#claims tr:has-text("kmalloc-128k-limit")');
    expect(await row.locator('td').nth(2).textContent()).toContain('KMALLOC_MAX_SIZE = 4 MiB');
    expect(await row.locator('td').nth(4).textContent()).toContain('KMALLOC_MAX_SIZE = 512 MiB (4096×');
    // No cell's content is wider than its column.
    const overflowing = await page.$$eval('#claims td, #claims th', (cells) =>
      cells.filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent?.slice(0, 60)),
    );
    expect(overflowing).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `report-top-${name}.png`) });
    await page.locator('#claims').screenshot({ path: join(ARTIFACTS, `claims-${name}.png`) });
    await page.close();
    expect(requests).toEqual([]);
  });

  it('renders the live report of a real run of every shipped scenario: every claim with a verdict, every scenario in the matrix', async () => {
    const a = await sharedRun('A');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.route(/^(?!file:)/, (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    await page.goto(`file://${join(a.out, 'report.html')}`);
    const claimIds = [...new Set(a.steps.flatMap((s) => (s.claims ?? []).map((c) => c.id)))];
    expect(claimIds.length).toBeGreaterThan(0);
    for (const id of claimIds)
      expect(
        await page.locator(`#claims tr:has-text("${id}") td.holds, #claims tr:has-text("${id}") td.fails`).count(),
        id,
      ).toBeGreaterThan(0);
    const matrix = (await page.locator('#verdict-matrix').textContent()) ?? '';
    for (const sc of new Set(a.steps.map((s) => s.scenario))) expect(matrix, sc).toContain(sc);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'report-live-6.1.png') });
    await page.close();
    expect(requests).toEqual([]);
  });
});
