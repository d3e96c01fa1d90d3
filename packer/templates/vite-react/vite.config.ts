import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run build` writes dist/, which auroraview.pack.toml packs as the frontend (`frontend.path`).
export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the packed app serves dist/ from auroraview://localhost/.
  base: "./",
  build: { outDir: "dist", emptyOutDir: true },
  server: { port: 5173, strictPort: true },
});
