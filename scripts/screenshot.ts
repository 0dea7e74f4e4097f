/// <reference lib="dom" />
/**
 * `deno task screenshot`: the README's picture of the page (`docs/web.png`), taken from a real
 * browser in the middle of a real conversation: a chat server with `--web` and `--history`, two
 * TCP clients, the page in chromium, and a second room.
 *
 *   deno task screenshot [--out PATH] [--dark]
 */

import { parseArgs } from "node:util";
import { TestBrowser } from "./support/browser.ts";
import { startServer, TestClient } from "./support/harness.ts";

const { values } = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: { out: { type: "string", default: "docs/web.png" }, dark: { type: "boolean", default: false } },
});

await using server = await startServer(["--mode", "chat", "--web", "0", "--history", "20"]);
await using alice = await TestClient.connect(server.port, { label: "alice" });
await alice.send("/nick alice");
await alice.lines.waitFor("* you are now alice");
await alice.send("morning! is the release build green?");
await alice.send("the flaky test from yesterday passed 50 times in a row");

await using browser = await TestBrowser.launch({ width: 960, height: 560 });
if (values.dark) await browser.page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
await browser.open(server.page!);
await browser.say("/nick carol");
await browser.waitForEntry("you are now carol");

await using bob = await TestClient.connect(server.port, { label: "bob" });
await bob.send("/nick bob");
await bob.lines.waitFor("* you are now bob");
await browser.waitForEntry("user3 is now bob");
await bob.send("green here too; tagging v0.2 now");
await browser.waitForEntry(/^bob green here too/);
await browser.say("great, I'll write the release notes");
await bob.lines.waitFor("<carol> great, I'll write the release notes");
await alice.send("someone pasted \x1b[2J into the room yesterday; it shows up escaped now");
await browser.waitForEntry(/^alice someone pasted/);
// A second room: carol joins bob in #release, and the page marks each line with its room.
await bob.send("/join #release");
await bob.lines.waitFor(/^\* joined #release/);
await browser.say("/join #release");
await browser.waitForEntry(/^joined #release: 2 here/);
await bob.send("draft of the notes is up, have a look");
await browser.waitForEntry(/bob draft of the notes/);
await browser.page.focus("#line");
await browser.page.keyboard.type("/who");

await browser.page.screenshot({ path: values.out });
console.log(`wrote ${values.out}`);
