import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  FakeOpenAi,
  launchChromium,
  lastToolResult,
  resultText,
  screenshot,
  type TestInfrastructure,
  TestPlatform,
  watchedPage,
} from '@athenic/testing';
import type { Browser, Page } from 'playwright-core';

/**
 * The web console in a real browser (Debian's Chromium driven by Playwright) against the whole
 * platform: what a person does after `npm start`, from pasting a key to talking to an agent.
 * Screenshots go to docs/console/.
 */
describe('the web console, in Chromium', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  let browser: Browser;
  let keyA: string;
  let keyB: string;
  let connectionId: string;
  const model = new FakeOpenAi([]);

  beforeAll(async () => {
    await model.start();
    infra = await createTestInfrastructure('console');
    platform = await new TestPlatform(infra, {
      env: {
        ...model.platformEnv(),
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
    const key = async (account: string) =>
      (await admin.post('/functions/v1/api-keys', { account_id: account, name: 'console' })).body
        .key as string;
    keyA = await key('acct-console');
    keyB = await key('acct-other');
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
    await infra?.dispose();
    await model.stop();
  });

  /**
   * The console as a person opens it: at the gateway's public address (PUBLIC_BASE_URL, here
   * http://localhost:<port>), the one origin its MCP endpoint accepts from a browser.
   */
  const consoleUrl = (path = '') =>
    `http://localhost:${new URL(platform.baseUrl).port}/console/${path}`;

  async function signIn(page: Page, key: string, accountId?: string) {
    await page.goto(consoleUrl());
    await page.getByLabel('API key').fill(key);
    if (accountId) await page.getByLabel('Account id (with the service role key)').fill(accountId);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Connections/ }).waitFor();
  }

  /** A failure says what the page showed, and what the browser saw go wrong. */
  async function explained<T>(
    page: Page,
    seen: { errors: string[]; failed: string[] },
    steps: () => Promise<T>,
  ): Promise<T> {
    try {
      return await steps();
    } catch (error) {
      const text = await page
        .locator('main')
        .innerText({ timeout: 2000 })
        .catch(() => '(no main)');
      const form = await page
        .locator('.explorer form')
        .innerHTML({ timeout: 1000 })
        .catch(() => '');
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\n--- the page (${page.url()}):\n${text.slice(0, 3000)}\n--- the tool form: ${form.slice(0, 6000)}\n--- answers of 400 or more: ${seen.failed.join(' | ')}\n--- console errors: ${seen.errors.join(' | ')}`,
      );
    }
  }

  const badge = (page: Page, status: string) =>
    page.locator('h1 .badge', { hasText: status }).waitFor({ timeout: 60000 });

  it('installs memory-server from the form, shows it running without a reload, and calls its tools', async () => {
    const { page, context, errors, failed } = await watchedPage(browser);
    try {
      await explained(page, { errors, failed }, async () => {
        await signIn(page, keyA);
        await page.getByText('No connection yet').waitFor();
        await screenshot(page, 'connections-empty');

        await page.getByRole('link', { name: 'Catalog', exact: true }).click();
        await page.getByTestId('server-memory-server').waitFor();
        await page.getByLabel('Search servers').fill('memory');
        expect(await page.locator('.card').count()).toBe(1);
        await screenshot(page, 'catalog');
        await page.getByRole('link', { name: /^Install Memory/ }).click();
        await page.getByLabel('Title').fill('My memory');
        await screenshot(page, 'install');
        await page.getByRole('button', { name: 'Install' }).click();

        // The connection page: it turns running as the platform reports it (no reload).
        await page.getByRole('heading', { name: /My memory/ }).waitFor();
        connectionId = page.url().split('/').pop()!;
        await badge(page, 'mcpRunning');
        await page.locator('.live-open').first().waitFor();

        // The tool explorer: create_entities from its schema's form, then read_graph.
        await page.getByLabel('Tool').selectOption('create_entities');
        await page.locator('#tool_entities__add').click();
        await page.locator('#tool_entities_0_name').fill('Ada');
        await page.locator('#tool_entities_0_entityType').fill('person');
        await page.locator('#tool_entities_0_observations__add').click();
        await page.locator('#tool_entities_0_observations_0').fill('wrote the first program');
        await page.getByRole('button', { name: 'Call create_entities' }).click();
        await page
          .getByTestId('tool-result')
          .getByText(/answered in \d+ ms/)
          .waitFor();
        await page.getByLabel('Tool').selectOption('read_graph');
        await page.getByRole('button', { name: 'Call read_graph' }).click();
        await page
          .getByTestId('tool-result')
          .getByText('wrote the first program')
          .first()
          .waitFor();
        await screenshot(page, 'connection');

        // An independent client sees what the console did.
        const client = await connectMcpClient(
          `${platform.baseUrl}/functions/v1/mcp-connections/${connectionId}/mcp`,
          keyA,
        );
        expect(resultText(await client.callTool({ name: 'read_graph', arguments: {} }))).toContain(
          'wrote the first program',
        );
        await client.close();

        // Its health: an MCP ping with its response time.
        await page
          .getByTestId('health')
          .getByText(/answered in [\d.]+ ms/)
          .waitFor();
        // Events and logs.
        await page.getByTestId('events').getByText('mcpRunning').first().waitFor();
        expect(await page.getByTestId('logs').textContent()).not.toBe('');

        // Stop, then start again, from the page.
        await page.getByRole('button', { name: 'Stop' }).click();
        await badge(page, 'mcpStopped');
        await page.getByRole('button', { name: 'Start' }).click();
        await badge(page, 'mcpRunning');
      });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180000);

  it("runs an agent over the account's connections and shows its tool call and answer", async () => {
    const { page, context, errors, failed } = await watchedPage(browser);
    try {
      await explained(page, { errors, failed }, async () => {
        model.play([
          () => ({ toolCalls: [{ name: '-read_graph', arguments: {} }] }),
          (request) => ({ content: `You remember: ${lastToolResult(request).slice(0, 120)}` }),
        ]);
        await signIn(page, keyA);
        await page.getByRole('link', { name: 'Agent', exact: true }).click();
        await page.getByLabel('Message').fill('What do you remember?');
        await page.getByRole('button', { name: 'Send' }).click();
        await page.getByTestId('tool-call').getByText('read_graph').waitFor();
        await page
          .getByTestId('answer')
          .getByText(/^You remember: /)
          .waitFor();
        // The run is listed among the past runs.
        await page.getByRole('button', { name: 'What do you remember?' }).waitFor();
        await screenshot(page, 'agent');
      });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("keeps another account's key away from the connection and the admin pages", async () => {
    const { page, context, errors } = await watchedPage(browser);
    try {
      await signIn(page, keyB);
      await page.getByText('No connection yet').waitFor();
      expect(await page.getByRole('link', { name: 'Admin', exact: true }).count()).toBe(0);
      await page.goto(consoleUrl(`connections/${connectionId}`));
      await page
        .getByRole('alert')
        .getByText(/No connection/)
        .waitFor();
      await page.goto(consoleUrl('admin'));
      await page.getByText('The admin pages need the service role key.').waitFor();
      // The browser logs the API's 404 as a failed resource load; nothing else went wrong.
      expect(errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('opens the admin pages with the service role key: account keys, master keys', async () => {
    const { page, context, errors } = await watchedPage(browser);
    try {
      await signIn(page, platform.serviceRoleKey, 'acct-console');
      await page.getByRole('link', { name: 'Admin', exact: true }).click();
      await page.getByText('Current version:').waitFor();
      await page.getByLabel('Key name').fill('from the console');
      await page.getByRole('button', { name: 'Create key' }).click();
      const created = await page.getByTestId('new-key').textContent();
      expect(created).toMatch(/^ak_/);
      await screenshot(page, 'admin');
      await page.getByRole('link', { name: 'Health', exact: true }).click();
      await page.getByRole('heading', { name: /Platform/ }).waitFor();
      await page.getByText('My memory').waitFor({ timeout: 30000 });
      await screenshot(page, 'health');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('works at a phone width: nothing wider than the screen', async () => {
    const { page, context, errors } = await watchedPage(browser, { width: 390, height: 844 });
    try {
      await signIn(page, keyA);
      await page.locator('tbody tr').first().waitFor();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, 'connections-phone');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
