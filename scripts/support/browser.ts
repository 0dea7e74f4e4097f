/// <reference lib="dom" />
/**
 * A real browser for tests: Debian's chromium, headless, driven by puppeteer-core. Helpers read
 * the page the way a person does (the conversation, the status line, the name, who is online)
 * and type into it with the keyboard.
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** A browser with one page; closing it closes the browser. */
export class TestBrowser implements AsyncDisposable {
  private constructor(readonly browser: Browser, readonly page: Page) {}

  /** Starts chromium (as root it needs `--no-sandbox`) with a page of `width` x `height`. */
  static async launch(
    options: { width?: number; height?: number; args?: string[] } = {},
  ): Promise<TestBrowser> {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", ...(options.args ?? [])],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: options.width ?? 1000, height: options.height ?? 700 });
    return new TestBrowser(browser, page);
  }

  /** Opens `url` and waits for the page to say it is connected. */
  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.waitForStatus(/^connected/);
  }

  /** Each entry of the conversation as a person reads it: `who text`, without the time. */
  conversation(): Promise<string[]> {
    return this.page.$$eval(
      "#log li",
      (items) =>
        items.map((item) =>
          [...item.childNodes].filter((node) => node.nodeName !== "TIME").map((node) => node.textContent)
            .join(" ")
        ),
    );
  }

  /** Waits until the conversation has an entry that `matches`; returns it. */
  async waitForEntry(matches: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const entries = await this.conversation();
      const found = entries.find((entry) =>
        typeof matches === "string" ? entry === matches : matches.test(entry)
      );
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `no entry matching ${matches}; the conversation: ${JSON.stringify(entries.slice(-10))}`,
        );
      }
      await this.page.waitForFunction(
        (count) => document.querySelectorAll("#log li").length !== count,
        { timeout: Math.max(1, deadline - Date.now()) },
        entries.length,
      ).catch(() => {/* checked again above */});
    }
  }

  /** The status line. */
  status(): Promise<string> {
    return this.page.$eval("#status", (element) => element.textContent ?? "");
  }

  /** Waits until the status line matches. */
  async waitForStatus(matches: RegExp, timeoutMs = 10_000): Promise<string> {
    await this.page.waitForFunction(
      (source) => new RegExp(source).test(document.getElementById("status")!.textContent ?? ""),
      { timeout: timeoutMs },
      matches.source,
    );
    return await this.status();
  }

  /** The text of the element with `id`. */
  text(id: string): Promise<string> {
    return this.page.$eval(`#${id}`, (element) => element.textContent ?? "");
  }

  /** Who the page lists as online. */
  online(): Promise<string[]> {
    return this.page.$$eval("#online li", (items) => items.map((item) => item.textContent ?? ""));
  }

  /** Types `text` into the message field and presses Enter, as a person would. */
  async say(text: string): Promise<void> {
    await this.page.focus("#line");
    await this.page.keyboard.type(text);
    await this.page.keyboard.press("Enter");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.browser.close();
  }
}
