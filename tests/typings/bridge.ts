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
