// After tsc: makes the two bins executable (tsc keeps the shebang but not the mode bit) and writes
// the configuration's precompiled validators (scripts/precompile-validators.ts).
import { chmodSync, existsSync } from "node:fs";
for (const bin of ["dist/src/main.js", "dist/emulator/cli.js"]) {
  if (existsSync(bin)) chmodSync(bin, 0o755);
}
await import("../dist/scripts/precompile-validators.js");
