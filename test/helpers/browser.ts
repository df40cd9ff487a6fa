/**
 * Browser tests' set-up: Debian's Chromium driven by playwright-core, against a real `aloft
 * standalone` process, logged in as the admin its first start creates.
 */
import fs from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { after, before } from "node:test";
import { Standalone, tempDir, writeDags } from "./aloft.js";

/** Chromium to drive: ALOFT_TEST_CHROMIUM, else Debian's; undefined when neither is there. */
export function chromiumExecutable(): string | undefined {
  const wanted = process.env.ALOFT_TEST_CHROMIUM;
  if (wanted) {
    if (!fs.existsSync(wanted)) throw new Error(`ALOFT_TEST_CHROMIUM=${wanted} does not exist: install Debian's chromium or fix the path`);
    return wanted;
  }
  return fs.existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined;
}

/** Why the browser suites skip, or false when they run. */
export function browserSkipReason(): string | false {
  return chromiumExecutable() ? false : "no Chromium: install Debian's `chromium` package or set ALOFT_TEST_CHROMIUM";
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumExecutable(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/** The password standalone's first start prints once on stdout. */
export function firstAdminPassword(stdout: string): string {
  const match = /username 'admin', password '([^']+)'/.exec(stdout);
  if (!match) throw new Error(`standalone printed no first admin password; its stdout was: ${stdout}`);
  return match[1]!;
}

export async function logIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(baseUrl);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=who]");
}

export interface UiUnderTest {
  standalone: Standalone;
  browser: Browser;
  page: Page;
  baseUrl: string;
  password: string;
  /** Uncaught page errors, console errors and 5xx answers seen so far. */
  pageErrors: string[];
}

/**
 * For a describe(): standalone on a fresh SQLite file with `dags`, a Chromium page logged in as
 * admin before the tests, and everything stopped after them.
 */
export function useUi(dags: Record<string, string>): UiUnderTest {
  const ui = { pageErrors: [] as string[] } as UiUnderTest;
  before(async () => {
    const dir = tempDir("ui-db");
    ui.standalone = new Standalone(`sqlite://${dir}/aloft.db`, writeDags(dags));
    await ui.standalone.start();
    ui.baseUrl = `http://127.0.0.1:${ui.standalone.port}/`;
    ui.password = firstAdminPassword(ui.standalone.stdout);
    ui.browser = await launchChromium();
    ui.page = await ui.browser.newPage({ viewport: { width: 1400, height: 900 } });
    ui.page.on("pageerror", (error) => ui.pageErrors.push(`page error: ${error.message}`));
    ui.page.on("console", (message) => {
      // 4xx answers are the UI's to show (a refused delete, the 401 before logging in); the server's own failures are caught below.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) ui.pageErrors.push(`console: ${message.text()}`);
    });
    ui.page.on("response", (response) => {
      if (response.status() >= 500) ui.pageErrors.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
    });
  });
  after(async () => {
    await ui.browser?.close();
    await ui.standalone?.stop();
    ui.standalone?.cleanup();
  });
  return ui;
}
