import { loadSpec } from "../config/spec.js";
import type { Output } from "../protocol/emit.js";

export async function runSpec(output: Output): Promise<number> {
  await output.spec(loadSpec());
  return 0;
}
