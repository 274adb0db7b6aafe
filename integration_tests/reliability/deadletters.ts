// Reads a dead-letter JSONL file (src/pipeline/deadletter.ts writes it): one rejected record a line.
import { existsSync, readFileSync } from "node:fs";
import { isObject } from "./webapi.js";

export interface DeadLetterLine {
  readonly stream: unknown;
  readonly key: unknown;
  readonly field: unknown;
  readonly code: unknown;
  readonly message: unknown;
  readonly record: unknown;
  readonly raw: Record<string, unknown>;
  readonly text: string;
}

export function readDeadLetters(path: string): DeadLetterLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((text) => {
      const raw: unknown = JSON.parse(text);
      if (!isObject(raw)) throw new TypeError("dead-letter line is not a JSON object");
      return { stream: raw["stream"], key: raw["key"], field: raw["field"], code: raw["code"], message: raw["message"], record: raw["record"], raw, text };
    });
}
