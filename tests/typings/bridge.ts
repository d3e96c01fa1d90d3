// packages/bridge (@auroraview/bridge) used as a page would: only type-checked (ci/test).
import { available, call, emit, off, on, ready, type AuroraViewError } from "../../packages/bridge/index.js";

async function main(): Promise<void> {
  const inWindow: boolean = available();
  await ready();
  const greeting: string = await call<string>("api.greet", { name: "Ada" }, { timeout: 5000 });
  const untyped = await call("api.add", [2, 3]);
  // @ts-expect-error: a result without a type is unknown
  untyped.toFixed();
  // @ts-expect-error: the timeout is a number
  await call("api.add", [2, 3], { timeout: "5s" });
  const stop: () => void = on<{ done: number }>("progress", (p) => console.log(p.done));
  on("__auroraview_backend__", (d) => {
    const code: number | null = d.code;
    // @ts-expect-error: not a field of the status
    d.restarts;
  });
  off("progress");
  stop();
  emit("clicked", { count: 1 });
  try {
    await call("api.boom");
  } catch (e) {
    const err = e as AuroraViewError;
    const t: string = err.type;
  }
  console.log(inWindow, greeting);
}
main();

// The package's types are the bridge's own shapes: a change to one without the other fails here.
import type * as Page from "../../python/auroraview/auroraview";
import type * as Package from "../../packages/bridge/index.js";
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShapes: [
  Same<Page.CallOptions, Package.CallOptions>,
  Same<Page.AuroraViewErrorType, Package.AuroraViewErrorType>,
  Same<Page.AuroraViewError, Package.AuroraViewError>,
  Same<Page.BackendStatus, Package.BackendStatus>,
  Same<Page.ProcessOutput, Package.ProcessOutput>,
  Same<Page.ProcessExit, Package.ProcessExit>,
  Same<Page.EventHandler<number>, Package.EventHandler<number>>,
  Same<Page.AuroraViewBridge["call"], typeof Package.call>,
] = [true, true, true, true, true, true, true, true];
console.log(sameShapes);
