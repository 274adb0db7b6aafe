// Lines → messages → the sync: one loop, whatever the protocol (messages.ts decodes each
// protocol's lines into SyncMessages). It stops at the first fatal error, lets what is in flight
// settle, and emits only the states that became safe.
import type { LoadedConfig } from "../config/load.js";
import type { Output } from "../protocol/emit.js";
import type { Line } from "../protocol/lines.js";
import { airbyteInput, singerInput } from "./messages.js";
import type { InputProtocol } from "./messages.js";
import type { Sync, SyncSummary } from "./sync.js";

export async function runSync(lines: AsyncIterable<readonly Line[]>, input: InputProtocol, sync: Sync, output: Output): Promise<SyncSummary> {
  const ignored = new Set<string>();
  try {
    for await (const batch of lines) for (const line of batch) {
      sync.throwIfFailed();
      if (line.text.trim() === "") continue;
      const msg = input.decode(line.text, line.number);
      switch (msg.kind) {
        case "record": {
          // Awaited only when the sync asks to wait (a batch going out): most records add synchronously.
          const wait = sync.record(msg.stream, msg.data, line.number);
          if (wait !== undefined) await wait;
          break;
        }
        case "state": {
          // Awaited only when relationship streams send their pending records first.
          const wait = sync.state(msg.held);
          if (wait !== undefined) await wait;
          break;
        }
        case "stream_status":
          sync.streamStatus(msg.stream, msg.status);
          break;
        case "declare":
          if (!sync.hasStream(msg.stream)) {
            const resolved = msg.resolve();
            const m = resolved.mapping;
            if (m.mode === "create" && m.key.kind === "none") {
              await output.log(
                "WARN",
                `stream "${m.name}" has no key (its SCHEMA's key_properties is empty and its configuration entry gives none): every run creates new rows, also for records written before; give key_properties or a key in the configuration to update rows instead`,
              );
            }
            await sync.addStreams([resolved]);
          }
          break;
        case "ignored":
          if (!ignored.has(msg.type)) {
            ignored.add(msg.type);
            await output.log(msg.level, msg.note);
          }
          break;
      }
    }
    sync.throwIfFailed();
  } catch (err) {
    // After a bad line (the writer still healthy), what was read before it is still written.
    await sync.abort({ flushPending: true });
    throw err;
  }
  try {
    return await sync.finish();
  } catch (err) {
    await sync.abort();
    throw err;
  }
}

/** Airbyte messages, the streams already set up from the configured catalog. */
export function runAirbyte(lines: AsyncIterable<readonly Line[]>, sync: Sync, output: Output): Promise<SyncSummary> {
  return runSync(lines, airbyteInput(), sync, output);
}

/** Singer messages: each stream is set up at its first SCHEMA. */
export function runSinger(lines: AsyncIterable<readonly Line[]>, sync: Sync, output: Output, loaded: LoadedConfig): Promise<SyncSummary> {
  return runSync(lines, singerInput(loaded), sync, output);
}
