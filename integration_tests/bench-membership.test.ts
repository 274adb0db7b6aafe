// The membership bench scenario (issue 17), small: the built connector, the faithful limits preset.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repositoryRoot } from "../bench/bench.js";
import { membershipSection, runMembership } from "../bench/membership.js";

const root = repositoryRoot();
const built = existsSync(join(root, "dist", "src", "main.js"));

describe("bench: the membership scenario", () => {
  it.runIf(built)("adds a 2,000-member segment, then a resync adds the 2 % who joined and removes the 2 % who left, and reports requests and execution per member", async () => {
    const work = mkdtempSync(join(tmpdir(), "d365-bench-membership-"));
    try {
      const runs = await runMembership({ root, work }, 2000, 120, () => undefined);
      expect(runs.map((r) => [r.ok, r.added, r.removed])).toEqual([
        [true, 2000, 0],
        [true, 40, 40],
      ]);
      for (const r of runs) {
        expect(r.requests).toBeGreaterThan(0);
        expect(r.executionMs).toBeGreaterThan(0);
      }
      // Two AddListMembersList of 1,000 carry the first run's members: far fewer requests than members.
      expect(runs[0]?.requests ?? 0).toBeLessThan(50);
      expect(membershipSection(runs).body).toContain("execution per member");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});
