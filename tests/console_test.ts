import { assertEquals } from "./assert.ts";
import { parseOperatorCommand } from "../lib/console.ts";

Deno.test("operator commands parse into what they ask for", () => {
  const cases: [string, ReturnType<typeof parseOperatorCommand>][] = [
    ["hello there", { kind: "reply", text: "hello there" }],
    ["@12 hi you", { kind: "send", id: 12, text: "hi you" }],
    ["/all attention", { kind: "all", text: "attention" }],
    ["/list", { kind: "list" }],
    ["/kick 3", { kind: "kick", id: 3 }],
    [".", { kind: "end" }],
    ["/quit", { kind: "quit" }],
    ["/help", { kind: "help" }],
    ["", { kind: "none" }],
    ["//not a command", { kind: "reply", text: "/not a command" }],
    ["@@handle", { kind: "reply", text: "@handle" }],
    ["..", { kind: "reply", text: ".." }],
  ];
  for (const [line, command] of cases) assertEquals(parseOperatorCommand(line), command, line);
});

Deno.test("malformed operator commands explain themselves", () => {
  for (const line of ["@x hi", "@0 hi", "/kick", "/kick abc", "/frobnicate"]) {
    assertEquals(parseOperatorCommand(line).kind, "invalid", line);
  }
});
