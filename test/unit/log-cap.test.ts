/** The head-and-tail plan of a capped try log: what is stored where, cut on whole characters and lines. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dropCut, keptPart, omittedMarker, planAppend, prefixCut, type LogSize } from "../../src/executor/log-cap.js";

const EMPTY: LogSize = { writtenBytes: 0, headBytes: null };

/** Appends texts one by one to a simulated store of parts, trimming as the plan says; returns the stored parts. */
function simulate(texts: string[], maxBytes: number): { parts: Array<{ offset: number; text: string }>; size: LogSize } {
  let parts: Array<{ offset: number; text: string }> = [];
  let size = EMPTY;
  for (const text of texts) {
    const plan = planAppend(size, text, maxBytes);
    size = plan.size;
    parts.push(...plan.parts);
    const before = plan.trimBefore;
    if (before !== null) {
      parts = parts.flatMap((p) => {
        if (p.offset < size.headBytes! || p.offset >= before) return [p];
        const kept = keptPart(p.text, p.offset, before, maxBytes);
        return kept ? [kept] : [];
      });
    }
  }
  return { parts, size };
}

const bytes = (parts: Array<{ text: string }>) => parts.reduce((n, p) => n + Buffer.byteLength(p.text), 0);

describe("planAppend", () => {
  test("a log under the cap is stored whole, at its offsets", () => {
    const { parts, size } = simulate(["a\n", "bb\n", "ccc\n"], 100);
    assert.deepEqual(parts, [
      { offset: 0, text: "a\n" },
      { offset: 2, text: "bb\n" },
      { offset: 5, text: "ccc\n" },
    ]);
    assert.deepEqual(size, { writtenBytes: 9, headBytes: null });
  });

  test("over the cap: the head holds the first half, the tail the latest half, the middle is left out", () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${String(i).padStart(4, "0")}\n`); // 10 bytes each
    const { parts, size } = simulate(lines, 200);
    assert.equal(size.writtenBytes, 10_000);
    assert.equal(size.headBytes, 100);
    assert.ok(bytes(parts) <= 200, `stored ${bytes(parts)} bytes`);
    const text = parts.map((p) => p.text).join("");
    assert.ok(text.startsWith("line 0000\nline 0001\n"));
    assert.ok(text.endsWith("line 0998\nline 0999\n"));
    // Offsets stay true positions in the whole log: the stored tail is the log's last bytes.
    const last = parts.at(-1)!;
    assert.equal(last.offset + Buffer.byteLength(last.text), 10_000);
  });

  test("a chunk that crosses the head limit is split there, on a line end when one is near", () => {
    // The head (200 bytes) ends 10 bytes into the second line: the cut moves back to the line end.
    const first = `${"a".repeat(189)}\n`;
    const second = `${"b".repeat(100)}\n`;
    const plan = planAppend(EMPTY, first + second, 400);
    assert.equal(plan.size.headBytes, 190);
    assert.deepEqual(plan.parts, [
      { offset: 0, text: first },
      { offset: 190, text: second },
    ]);
    assert.equal(plan.trimBefore, null);
  });

  test("one chunk far over the cap keeps only its start and its end", () => {
    const plan = planAppend(EMPTY, "x".repeat(10_000), 100);
    assert.deepEqual(plan.parts, [
      { offset: 0, text: "x".repeat(50) },
      { offset: 9_950, text: "x".repeat(50) },
    ]);
    assert.deepEqual(plan.size, { writtenBytes: 10_000, headBytes: 50 });
  });

  test("never cuts a UTF-8 character in half", () => {
    // "é" is 2 bytes, "€" 3: no cut point lands on a character boundary by chance.
    const text = "é€".repeat(5_000);
    for (const maxBytes of [64, 65, 66, 67, 100, 1001]) {
      const { parts } = simulate([text, text.slice(0, 333), "€é"], maxBytes);
      for (const part of parts) {
        assert.ok(!part.text.includes("\uFFFD"), `cap ${maxBytes}: a broken character in ${JSON.stringify(part.text.slice(0, 20))}`);
        assert.equal(Buffer.from(part.text).toString("utf8"), part.text);
      }
      assert.ok(bytes(parts) <= maxBytes, `cap ${maxBytes}: stored ${bytes(parts)} bytes`);
    }
  });
});

describe("cut points", () => {
  const buf = Buffer.from("ab\ncd€f\ngh");
  test("prefixCut ends after a nearby newline, else before a whole character", () => {
    assert.equal(prefixCut(buf, 5, 4), 3);
    assert.equal(prefixCut(buf, 7, 0), 5); // inside "€" (bytes 5..7): moved back to its start
    assert.equal(prefixCut(buf, 100, 4), buf.length);
  });
  test("dropCut drops up to a nearby newline, else to the next whole character", () => {
    assert.equal(dropCut(buf, 6, 10), 10);
    assert.equal(dropCut(buf, 6, 0), 8); // inside "€": moved on past it
    assert.equal(dropCut(buf, 0, 4), 0);
  });
});

test("the marker names the bytes left out and the setting, on a line of its own", () => {
  assert.match(omittedMarker(12345, true), /^\[\.\.\. 12345 bytes .*task_log_max_bytes.*\]\n$/);
  assert.ok(omittedMarker(1, false).startsWith("\n["));
});
