// A page's use of `window.auroraview`, written against python/auroraview/auroraview.d.ts. Only
// type-checked (ci/test), never run: each `@ts-expect-error` line must stay an error, so types
// that degrade to `any` or `string` fail the check.
import type {
  AuroraViewBridge,
  AuroraViewError,
  AuroraViewErrorType,
  BackendStatus,
  EventHandler,
} from "../../python/auroraview/auroraview";

const bridge: AuroraViewBridge = window.auroraview;

function isAuroraViewError(e: unknown): e is AuroraViewError {
  return e instanceof Error && typeof (e as Partial<AuroraViewError>).type === "string";
}

function describe(type: AuroraViewErrorType): string {
  switch (type) {
    case "ParseError":
    case "InvalidRequest":
      return "malformed request";
    case "MethodNotFound":
      return "no such method";
    case "TypeError":
      return "wrong arguments, or a result that is not JSON";
    case "BackendExited":
      return "Python exited while answering";
    case "TimeoutError":
      return "no answer in time";
    case "BackendError":
      return "Python is not coming back";
    default:
      return `Python raised ${type}`;
  }
}

const pythonException: AuroraViewErrorType = "ValueError";
// @ts-expect-error: an error type is a string
const notAnErrorType: AuroraViewErrorType = 404;

type Progress = { done: number; total: number };
const onProgress: EventHandler<Progress> = (p) => {
  const fraction: number = p.done / p.total;
  // @ts-expect-error: no such field
  p.left;
};

const onBackend = (d: BackendStatus): void => {
  const code: number | null = d.code;
  // @ts-expect-error: the code is null when not known
  const known: number = d.code;
  const message: string = d.message;
  if (d.status === "failed") console.error(`Python is gone: ${message} (${code})`);
  // @ts-expect-error: not a status the runtime sends
  if (d.status === "crashed") return;
};

window.addEventListener("auroraviewready", async (ev) => {
  const fired: Event = ev;
  const ready: boolean = auroraview.ready && bridge.ready;
  // @ts-expect-error: read-only
  auroraview.ready = true;

  const sum: number = await auroraview.call<number>("api.add", [2, 3]);
  const greeting: string = await auroraview.call<string>("api.greet", { name: "Ada" }, { timeout: 5000 });
  const samples: number[] = await window.auroraview.api.get_samples<number[]>();
  const untyped = await auroraview.api.add(2, 3);
  // @ts-expect-error: a result without a type is unknown, not any
  untyped.toFixed();
  // @ts-expect-error: the timeout is a number of milliseconds
  await auroraview.call("api.add", [2, 3], { timeout: "5s" });

  try {
    await auroraview.call("api.boom", null, { timeout: 5000 });
  } catch (e) {
    if (isAuroraViewError(e)) {
      const text: string = `${describe(e.type)}: ${e.message}`;
      const traceback: string | undefined = e.traceback;
      if (e.type === "BackendExited" || e.type === "ZeroDivisionError") console.warn(text, traceback);
    }
  }

  const stopBackend: () => void = auroraview.on("__auroraview_backend__", (d) => {
    const status: "exited" | "failed" | "restarted" = d.status;
    // @ts-expect-error: the payload is typed, not unknown or any
    d.restarts;
  });
  auroraview.on("__auroraview_backend__", onBackend);
  auroraview.off("__auroraview_backend__", onBackend);
  stopBackend();

  const stopProgress = auroraview.on("progress", onProgress);
  auroraview.on<Progress>("progress", (p) => console.log(p.done));
  auroraview.on("anything", (data) => {
    // @ts-expect-error: an untyped event's data is unknown
    data.field;
  });
  auroraview.off("progress", onProgress);
  auroraview.off("progress");
  stopProgress();

  const plugins = auroraview.plugins;
  await plugins.shell.open("https://example.com");
  const git: string | null = await plugins.shell.which("git");
  const run = await plugins.shell.execute("git", ["--version"], { timeout_ms: 5000 });
  const out: string = run.stdout;
  const exitCode: number | null = run.code;
  // @ts-expect-error: args are strings
  await plugins.shell.execute("git", [1]);
  const { pid } = await plugins.process.spawn("ffmpeg", ["-version"], { cwd: "/tmp" });
  await plugins.process.write(pid, "q\n", { close: true });
  auroraview.on("process.stdout", (e) => {
    const line: string = e.line;
    const from: number = e.pid;
    // @ts-expect-error: output events carry a line, not data
    e.data;
  });
  auroraview.on("process.exit", (e) => console.log(e.code, e.signal));
  const one: string | null = await plugins.dialog.openFile({ filters: [{ name: "Images", extensions: ["png"] }] });
  const many: string[] | null = await plugins.dialog.open_file({ multiple: true });
  // @ts-expect-error: a single choice is not a list
  const notMany: string[] | null = await plugins.dialog.openFile();
  const sure: boolean = await plugins.dialog.confirm("Delete?", { title: "Confirm" });
  const copied: string | null = await plugins.clipboard.readText();
  await plugins.clipboard.write_text("hi");
  try {
    await plugins.clipboard.clear();
  } catch (e) {
    if (isAuroraViewError(e) && e.type === "PermissionDenied") console.warn(e.message);
  }

  auroraview.emit("clicked", { count: 1 });
  auroraview.emit("closed");
  // @ts-expect-error: an event name is a string
  auroraview.emit(1);
});
