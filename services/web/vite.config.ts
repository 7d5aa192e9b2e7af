import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a running Runyard front door (RUNYARD_DEV_API, default :8080).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 500 },
  server: {
    proxy: { "/api": process.env.RUNYARD_DEV_API ?? "http://127.0.0.1:8080" },
  },
});
