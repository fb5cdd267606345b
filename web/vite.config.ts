// Vite builds the app into dist/, which the gateway serves at / (gateway/gateway/webapp.py).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    // No inline scripts or data: URLs for scripts: the gateway's CSP is default-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    // `npx vite` for development: the API, sign-in and documents come from `make run`.
    proxy: Object.fromEntries(
      ["/api", "/auth", "/openapi.json"].map((p) => [p, "http://localhost:8000"]),
    ),
  },
});
