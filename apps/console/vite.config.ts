import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built to apps/console/dist; the gateway serves it at /console (hashed assets cached for a year).
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
});
