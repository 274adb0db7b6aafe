// A request path built by wrapping one dispatch function in another, the way undici composes its
// interceptors: each wrapper does one thing (take a permit, add headers, retry, count) and calls the
// next; the innermost one is the transport.
import type { HttpRequest, HttpResponse, Transport } from "./transport.js";

/** Sends one request and resolves with its answer, whatever its status. */
export type Dispatch<R extends HttpRequest = HttpRequest> = (req: R) => Promise<HttpResponse>;

/** Wraps a dispatch function in one concern. */
export type Interceptor<R extends HttpRequest = HttpRequest> = (next: Dispatch<R>) => Dispatch<R>;

/** The transport as the innermost dispatch function. */
export function transportDispatch<R extends HttpRequest>(transport: Transport): Dispatch<R> {
  return (req) => transport.request(req);
}

/** `compose(base, a, b)` sends through a, then b, then base: the first interceptor is the outermost. */
export function compose<R extends HttpRequest>(base: Dispatch<R>, ...interceptors: readonly Interceptor<R>[]): Dispatch<R> {
  return interceptors.reduceRight<Dispatch<R>>((next, wrap) => wrap(next), base);
}
