// A bug the reliability suites found in throttle.ts, pinned by its smallest reproduction so it
// stays fixed (moved here from integration_tests/reliability/known-bugs.test.ts: it needs no
// emulator and no CLI).
import { describe, expect, it } from "vitest";
import type { Clock } from "./clock.js";
import { Throttle } from "./throttle.js";

describe("fixed bugs, pinned", () => {
  // src/http/throttle.ts #scheduleWake: `paused` and `pauseRemainingMs` read the clock at two
  // instants. When the pause ends in between, no wake-up is scheduled and no waiter is notified:
  // the waiter never resolves. In the connector, with nothing else in flight, the event loop then
  // drains and Node exits with code 13 (unsettled top-level await): no TRACE, no further states.
  // Seen in faults.test.ts under the scaled limits when the machine is busy.
  it("a pause that ends between the paused check and the wake scheduling still wakes the waiter", async () => {
    // Real sleeps; time moves 0.6 ms between two reads of now(), as it can on a busy machine.
    let t = 0;
    const clock: Clock = { now: () => (t += 0.6), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
    const throttle = new Throttle({ clock, initial: 1, max: 1 });
    throttle.pause(1); // paused until 1.6; `paused` read at 1.2 (true), remaining read at 1.8 (0)
    const got = await Promise.race([throttle.acquire().then(() => "slot"), new Promise((r) => setTimeout(() => r("stuck"), 500))]);
    expect(got).toBe("slot");
  });
});
