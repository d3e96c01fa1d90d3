import { useEffect, useState } from "react";

// `window.auroraview` (typed by src/auroraview.d.ts) calls the Python functions main.py binds.
async function greet(name: string): Promise<string> {
  if (!window.auroraview) return "Not in an AuroraView window: run `auroraview-pack dev` or the packed app";
  return window.auroraview.call<string>("api.greet", { name });
}

export default function App() {
  const [name, setName] = useState("world");
  const [answer, setAnswer] = useState("Waiting for Python…");

  const ask = () => greet(name).then(setAnswer, (e: Error) => setAnswer(`Error: ${e.message}`));
  useEffect(() => {
    if (!window.auroraview || window.auroraview.ready) ask();
    else window.addEventListener("auroraviewready", ask, { once: true });
  }, []);

  return (
    <main style={{ fontFamily: "system-ui, sans-serif", margin: "2rem" }}>
      <h1>{{title}}</h1>
      <p>
        <input value={name} onChange={(e) => setName(e.target.value)} /> <button onClick={ask}>Greet</button>
      </p>
      <p>{answer}</p>
    </main>
  );
}
