// Lines → messages → the Sync. One loop per protocol; both stop at the first fatal error,
// let what is in flight settle, and emit only the states that became safe.
import type { LoadedConfig } from "../config/load.js";
import { resolveSingerStream } from "../config/catalog.js";
import { parseAirbyteMessage } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";
import { ProtocolError } from "../protocol/errors.js";
import type { Line } from "../protocol/lines.js";
import { parseSingerMessage } from "../protocol/singer.js";
import type { Sync, SyncSummary } from "./sync.js";

async function guarded(sync: Sync, body: () => Promise<void>): Promise<SyncSummary> {
  try {
    await body();
  } catch (err) {
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

export function runAirbyte(lines: AsyncIterable<readonly Line[]>, sync: Sync, output: Output): Promise<SyncSummary> {
  const ignored = new Set<string>();
  return guarded(sync, async () => {
    for await (const batch of lines) for (const line of batch) {
      sync.throwIfFailed();
      if (line.text.trim() === "") continue;
      const msg = parseAirbyteMessage(line.text, line.number);
      switch (msg.kind) {
        case "record": {
          // Awaited only when the Sync asks to wait (a batch going out): most records add synchronously.
          const wait = sync.record(msg.stream, msg.data, line.number);
          if (wait !== undefined) await wait;
          break;
        }
        case "state":
          sync.state({ protocol: "airbyte", state: msg.state });
          break;
        case "stream_status":
          sync.streamStatus(msg.stream, msg.status);
          break;
        case "ignored":
          if (!ignored.has(msg.type)) {
            ignored.add(msg.type);
            await output.log("DEBUG", `${msg.type} messages on the input are ignored by a destination`);
          }
          break;
      }
    }
    sync.throwIfFailed();
  });
}

export function runSinger(lines: AsyncIterable<readonly Line[]>, sync: Sync, output: Output, loaded: LoadedConfig): Promise<SyncSummary> {
  return guarded(sync, async () => {
    const ignoredTypes = new Set<string>();
    for await (const batch of lines) for (const line of batch) {
      sync.throwIfFailed();
      if (line.text.trim() === "") continue;
      const msg = parseSingerMessage(line.text, line.number);
      switch (msg.kind) {
        case "schema":
          // A repeated SCHEMA (taps resend it) keeps the plan made for the first one.
          if (!sync.hasStream({ name: msg.stream })) await sync.addStreams([resolveSingerStream(loaded, msg.stream, msg.keyProperties, line.number)]);
          break;
        case "record": {
          if (!sync.hasStream({ name: msg.stream })) {
            throw new ProtocolError("record_before_schema", "RECORD before the SCHEMA of its stream", { line: line.number, stream: msg.stream });
          }
          const wait = sync.record({ name: msg.stream }, msg.data, line.number);
          if (wait !== undefined) await wait;
          break;
        }
        case "state":
          sync.state({ protocol: "singer", value: msg.value });
          break;
        case "ignored":
          if (!ignoredTypes.has(msg.type)) {
            ignoredTypes.add(msg.type);
            await output.log(
              "INFO",
              msg.type === "ACTIVATE_VERSION"
                ? `${msg.type} messages are ignored: table versions are not supported by this target`
                : `${msg.type} messages are not read by this target and are ignored`,
            );
          }
          break;
      }
    }
    sync.throwIfFailed();
  });
}
