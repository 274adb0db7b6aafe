// Makes the two bins executable after tsc (tsc keeps the shebang but not the mode bit).
import { chmodSync, existsSync } from "node:fs";
for (const bin of ["dist/src/main.js", "dist/emulator/cli.js"]) {
  if (existsSync(bin)) chmodSync(bin, 0o755);
}
