// Loaded with `node --import` into every process the bench measures (the connector, the
// dynamics-web-api loader, the raw emulator load). On exit it writes the process's own
// resource usage to BENCH_USAGE_FILE: the kernel's figures for that process alone, without
// depending on /usr/bin/time or on the measured program reporting anything itself.
import { writeFileSync } from "node:fs";

const file = process.env["BENCH_USAGE_FILE"];
if (file !== undefined && file !== "") {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    writeFileSync(
      file,
      JSON.stringify({
        userCpuMicros: usage.userCPUTime,
        systemCpuMicros: usage.systemCPUTime,
        // ru_maxrss, which Node reports in kilobytes.
        maxRssKb: usage.maxRSS,
      }),
    );
  });
}
