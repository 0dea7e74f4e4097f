/// <reference lib="dom" />
/**
 * The page in a real browser (chromium, driven by puppeteer-core): someone in a browser, someone
 * with `nc` and the operator at the console share one conversation; what clients send is shown
 * as text and never runs; the page survives a server restart, says why it was closed, refuses to
 * be used from another site's page, and reads on a phone.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { TestBrowser } from "../../scripts/support/browser.ts";
import { LINUX, type ServerProcess, spawnProcess, startServer } from "../../scripts/support/harness.ts";

/** Browser tests need chromium and OpenBSD netcat: Linux, as CI installs them. */
const ignore = !LINUX;

function webServer(extra: string[] = [], options: { stdin?: boolean } = {}): Promise<ServerProcess> {
  return startServer(["--web", "0", ...extra], options);
}

Deno.test(
  "a browser user and an nc user chat both ways, with names and who is online",
  { ignore },
  async () => {
    await using server = await webServer(["--mode", "chat"]);
    await using browser = await TestBrowser.launch();
    await browser.open(server.page!);
    await browser.waitForEntry(/^welcome, user1: 1 online/);
    assertEquals(await browser.text("name"), "user1");

    await using nc = spawnProcess("nc", ["-N", "127.0.0.1", String(server.port)], {
      stdin: true,
      label: "nc",
    });
    await nc.stdout.waitFor(/^\* welcome, user2/);
    await browser.waitForEntry("user2 joined");
    assertEquals(await browser.online(), ["user1", "user2"]);

    await browser.say("/nick Alice");
    await browser.waitForEntry("you are now Alice");
    assertEquals(await browser.text("name"), "Alice");
    await nc.stdout.waitFor("* user1 is now Alice");

    await browser.say("hello from the browser");
    await nc.stdout.waitFor("<Alice> hello from the browser");
    await browser.waitForEntry("Alice hello from the browser");

    await nc.type("hello from nc");
    await browser.waitForEntry("user2 hello from nc");
    await nc.type("/nick bob");
    await browser.waitForEntry("user2 is now bob");
    assertEquals(await browser.online(), ["Alice", "bob"]);

    await nc.type("/who");
    await nc.stdout.waitFor("* online: Alice, bob");
    await browser.page.click("#who");
    await browser.waitForEntry("online: Alice, bob");

    // Up recalls what was sent, as in a shell.
    await browser.page.focus("#line");
    await browser.page.keyboard.press("ArrowUp");
    assertEquals(
      await browser.page.$eval("#line", (input) => (input as HTMLInputElement).value),
      "hello from the browser",
    );
  },
);

Deno.test(
  "console: a closed tab, and a closed browser, end their conversations; no ghost stays in /list",
  { ignore },
  async () => {
    await using server = await webServer(["--mode", "console"], { stdin: true });
    await using browser = await TestBrowser.launch();
    await browser.open(server.page!);
    await browser.say("/nick ghost");
    await server.stdout.waitFor(/#1 127\.0\.0\.1:\d+ > \/nick ghost$/);
    const second = await browser.browser.newPage();
    await second.goto(server.page!);
    await second.waitForFunction(() =>
      document.querySelector("#status")?.textContent?.startsWith("connected")
    );
    // The tab is closed: no operator line is written to either client, and yet both go.
    await browser.page.close();
    await server.stderr.waitFor(/#1 disconnected: client closed/, 5000);
    await browser.browser.close();
    await server.stderr.waitFor(/#2 disconnected: client closed/, 5000);
    await server.type("/list");
    assertEquals(await server.stdout.waitFor(/no clients connected|^ ID/), "no clients connected");
  },
);

Deno.test(
  "the operator at the console sees a browser client in /list and answers it",
  { ignore },
  async () => {
    await using server = await webServer(["--mode", "console"], { stdin: true });
    await using browser = await TestBrowser.launch();
    await browser.open(server.page!);
    await browser.say("is anyone there?");
    await server.stdout.waitFor(/#1 127\.0\.0\.1:\d+ > is anyone there\?$/);
    await server.type("/list");
    await server.stdout.waitFor(/^ ID +ADDRESS +VIA +SINCE/);
    assertMatch(await server.stdout.next(), /^\*#1 +127\.0\.0\.1:\d+ +ws +\d\d:\d\d:\d\d\.\d{3} +1 +0$/);
    await server.type("yes, the operator is here");
    await browser.waitForEntry("yes, the operator is here");
  },
);

Deno.test("markup a client sends is shown as text, and nothing in it runs", { ignore }, async () => {
  await using server = await webServer(["--mode", "chat"]);
  await using browser = await TestBrowser.launch();
  await browser.open(server.page!);
  const title = await browser.page.title();
  await using nc = spawnProcess("nc", ["-N", "127.0.0.1", String(server.port)], { stdin: true, label: "nc" });
  await nc.stdout.waitFor(/^\* welcome/);
  const attacks = [
    `<img src=x onerror="document.title='pwned'">`,
    `</div><script>document.title='pwned'</script>`,
    `<svg onload="document.title='pwned'">`,
  ];
  for (const attack of attacks) await nc.type(attack);
  for (const attack of attacks) await browser.waitForEntry(`user2 ${attack}`);
  // A typed backslash reaches the page as typed (terminals get it doubled); a real ESC is shown.
  await nc.type(String.raw`typed \e[2J and C:\dir`);
  await nc.type("real \x1b[2J");
  await browser.waitForEntry(String.raw`user2 typed \e[2J and C:\dir`);
  await browser.waitForEntry(String.raw`user2 real \e[2J`);
  // Give an event loop turn for anything that would run to run.
  await browser.page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
  assertEquals(await browser.page.title(), title);
  const injected = await browser.page.$$eval("#log img, #log script, #log svg", (nodes) => nodes.length);
  assertEquals(injected, 0);
  assertEquals(await browser.page.$$eval("img, svg", (nodes) => nodes.length), 0);
});

Deno.test(
  "the server restarts: the page says so, reconnects with back-off, and says that too",
  { ignore },
  async () => {
    const first = await webServer(["--mode", "chat"]);
    const webPort = first.webPort;
    await using browser = await TestBrowser.launch();
    try {
      await browser.open(first.page!);
      await browser.waitForEntry(/^welcome, user1/);
      assertEquals((await first.stop("SIGTERM")).code, 0);
    } finally {
      await first[Symbol.asyncDispose]();
    }
    await browser.waitForEntry("server shutting down");
    assertMatch(
      await browser.waitForStatus(/reconnecting in/),
      /^connection lost; reconnecting in \d+\.\d s \(attempt \d+\)$/,
    );
    await using second = await startServer(["--mode", "chat", "--web", String(webPort)]);
    await browser.waitForStatus(/^connected/, 20_000);
    await browser.waitForEntry("reconnected to the server");
    await browser.waitForEntry(/^welcome, user1: 1 online/);
    await browser.say("back again");
    await second.stderr.waitFor(/#1 connected/);
  },
);

Deno.test(
  "a line over --max-line from the page: ERR, and the page says why it was closed",
  { ignore },
  async () => {
    await using server = await webServer(["--mode", "echo", "--max-line", "50"]);
    await using browser = await TestBrowser.launch();
    await browser.open(server.page!);
    await browser.say("short");
    await browser.waitForEntry("short");
    await browser.say("y".repeat(60));
    await browser.waitForEntry("ERR line too long (max 50 bytes)");
    assertEquals(
      await browser.waitForStatus(/^closed/),
      "closed by the server: line too long (max 50 bytes)",
    );
    await server.stderr.waitFor(/disconnected: line too long/);
  },
);

Deno.test("a page served from another origin cannot open a WebSocket to the server", { ignore }, async () => {
  await using server = await webServer(["--mode", "chat"]);
  const target = `ws://127.0.0.1:${server.webPort}/ws`;
  const evil = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
    new Response(
      `<!doctype html><title>waiting</title><script>
        const ws = new WebSocket(${JSON.stringify(target)});
        ws.onopen = () => { document.title = "opened"; };
        ws.onclose = (event) => { document.title = "closed " + event.code; };
      </script>`,
      { headers: { "content-type": "text/html" } },
    ));
  try {
    await using browser = await TestBrowser.launch();
    await browser.page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    await browser.page.waitForFunction(() => document.title !== "waiting", { timeout: 10_000 });
    assertEquals(await browser.page.title(), "closed 1006");
    await server.stderr.waitFor(
      new RegExp(
        `WebSocket handshake with 127\\.0\\.0\\.1:\\d+ failed: origin http://127\\.0\\.0\\.1:${evil.addr.port} may not connect`,
      ),
    );
  } finally {
    await evil.shutdown();
  }
});

Deno.test(
  "on a phone-sized screen the page fits, long lines wrap, and it follows the dark theme",
  { ignore },
  async () => {
    await using server = await webServer(["--mode", "echo"]);
    await using browser = await TestBrowser.launch({ width: 375, height: 700 });
    await browser.page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    await browser.open(server.page!);
    await browser.say("a".repeat(300));
    await browser.waitForEntry(`you ${"a".repeat(300)}`);
    const width = await browser.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `no sideways scrolling (scroll width ${width})`);
    const background = await browser.page.evaluate(() =>
      getComputedStyle(document.documentElement).backgroundColor
    );
    assertEquals(background, "rgb(21, 21, 23)");
    // Keyboard alone: the message field has the focus from the start.
    assertEquals(await browser.page.evaluate(() => document.activeElement?.id), "line");
  },
);

Deno.test("a private message is marked apart on the page, both ways", { ignore }, async () => {
  await using server = await webServer(["--mode", "chat"]);
  await using browser = await TestBrowser.launch();
  await browser.open(server.page!);
  await browser.waitForEntry(/welcome/);
  await browser.say("/nick webby");
  await browser.waitForEntry(/you are now webby/);
  await using nc = spawnProcess("nc", ["-N", "127.0.0.1", String(server.port)], { stdin: true, label: "nc" });
  await nc.stdout.waitFor(/^\* welcome/);
  await nc.type("/nick ncat");
  await nc.type("/msg webby just between us");
  await browser.waitForEntry("ncat \u2192 you just between us");
  await browser.say("/msg ncat likewise");
  assertEquals(await nc.stdout.waitFor(/^\* private from /), "* private from webby: likewise");
  await browser.waitForEntry("you \u2192 ncat likewise");
  const marked = await browser.page.$$eval("#log li.private", (items) => items.map((item) => item.className));
  assertEquals(marked, ["said private", "said private mine"]);
});

Deno.test(
  "the page lists the rooms, switches between them, and marks each line with its room",
  { ignore },
  async () => {
    await using server = await webServer(["--mode", "chat"]);
    await using browser = await TestBrowser.launch();
    await browser.open(server.page!);
    await browser.waitForEntry(/^welcome, user1: 1 online/);
    const rooms = () =>
      browser.page.$$eval(
        "#room-list button",
        (buttons) =>
          buttons.map((button) =>
            `${button.textContent}${button.className === "mine" ? " mine" : ""}${
              button.getAttribute("aria-current") === "true" ? " current" : ""
            }`
          ),
      );
    await browser.page.waitForFunction(() => document.querySelectorAll("#room-list button").length === 1);
    assertEquals(await rooms(), ["#parley (1) mine current"]);

    await using nc = spawnProcess("nc", ["-N", "127.0.0.1", String(server.port)], {
      stdin: true,
      label: "nc",
    });
    await nc.stdout.waitFor(/^\* welcome, user2/);
    await nc.type("/join #rust");
    await nc.stdout.waitFor("* joined #rust: 1 here; your lines go there now");
    await browser.page.click("#rooms");
    await browser.page.waitForFunction(() => document.querySelectorAll("#room-list button").length === 2);
    assertEquals(await rooms(), ["#parley (2) mine current", "#rust (1)"]);

    // A click on a room joins it, and the user's lines go there.
    await browser.page.click("#room-list li:nth-child(2) button");
    await browser.waitForEntry("joined #rust: 2 here; your lines go there now");
    assertEquals(await rooms(), ["#parley (2) mine", "#rust (2) mine current"]);
    assertEquals(
      await browser.page.$eval("#line", (input) => (input as HTMLInputElement).placeholder),
      "message #rust",
    );
    await nc.type("crabs");
    await browser.waitForEntry("#rust user2 crabs");
    await browser.say("hello rust");
    await nc.stdout.waitFor("#rust <user1> hello rust");
    await browser.waitForEntry("#rust user1 hello rust");

    // Back to #parley by a click: a switch, not a second join.
    await browser.page.click("#room-list li:nth-child(1) button");
    await browser.waitForEntry("talking in #parley");
    await browser.say("hello parley");
    await nc.stdout.waitFor("#parley <user1> hello parley");
    await nc.type("#parley and to you");
    await browser.waitForEntry("#parley user2 and to you");
    // A private line is marked as private, not as a room's.
    await nc.type("/msg user1 just you");
    await browser.waitForEntry("user2 \u2192 you just you");
    assertEquals(
      await browser.page.$$eval(
        "#log li.private",
        (items) => items.map((item) => item.querySelector(".room") === null),
      ),
      [true],
    );
  },
);

Deno.test("a page that goes away and comes back resumes its session: same name, each missed line once", {
  ignore,
}, async () => {
  await using server = await webServer(["--mode", "chat"]);
  await using browser = await TestBrowser.launch();
  await browser.open(server.page!);
  await browser.waitForEntry(/^welcome, user1: 1 online/);
  await browser.say("/nick webby");
  await browser.waitForEntry("you are now webby");
  await using nc = spawnProcess("nc", ["-N", "127.0.0.1", String(server.port)], { stdin: true, label: "nc" });
  await nc.stdout.waitFor(/^\* welcome, user2/);
  await nc.type("one");
  await browser.waitForEntry("user2 one");
  // The tab leaves the page (its WebSocket closes) and comes back to it: a reload, or a network change.
  await browser.page.goto("about:blank");
  await server.stderr.waitFor(/#1 disconnected/);
  await nc.type("two");
  await nc.type("three");
  await browser.open(server.page!);
  await browser.waitForEntry("resumed as webby; 2 missed lines follow");
  assertEquals(await browser.text("name"), "webby");
  await browser.waitForEntry("user2 three");
  await nc.type("four");
  await browser.waitForEntry("user2 four");
  const entries = await browser.conversation();
  for (const line of ["user2 two", "user2 three", "user2 four"]) {
    assertEquals(
      entries.filter((entry) => entry === line).length,
      1,
      `${line} once: ${JSON.stringify(entries)}`,
    );
  }
  assertEquals(entries.some((entry) => /@#parley|session /.test(entry)), false, JSON.stringify(entries));
  await nc.type("/who");
  await nc.stdout.waitFor("* online: user2, webby");
  assertEquals(nc.stdout.seen.some((line) => line.includes("webby left")), false, "nobody heard it go");
});
