// @ts-check
/// <reference path="./auroraview.d.ts" />
// `window.auroraview` is there before this script runs; `auroraviewready` fires once the page has
// loaded. Types: auroraview.d.ts (editors read it through the reference above).

const out = /** @type {HTMLElement} */ (document.getElementById("out"));
const input = /** @type {HTMLInputElement} */ (document.getElementById("name"));

async function greet() {
  try {
    out.textContent = await window.auroraview.call("api.greet", { name: input.value });
  } catch (e) {
    out.textContent = `Error: ${e instanceof Error ? e.message : e}`;
  }
}

/** @type {HTMLElement} */ (document.getElementById("greet")).addEventListener("click", greet);
if (window.auroraview.ready) greet();
else window.addEventListener("auroraviewready", greet);
