/** @type {import('next').NextConfig} */
const nextConfig = {
  // The web role's own Node server (server/http) serves /api and /v1; Next.js renders pages only.
  poweredByHeader: false,
  reactStrictMode: true,
  // Type-checking is its own step (`npm run typecheck`, part of `npm test`), not part of every build.
  typescript: { ignoreBuildErrors: true },
  // Nothing in the product may fetch from the internet at run time.
  images: { unoptimized: true },
  // Only the container image's build asks for Next's standalone output: deploy/image/assemble.sh takes the
  // traced subset of `next` and the server part of .next from it. `npm start` and the tests build without it.
  output: process.env.ENCLAVE_NEXT_STANDALONE === '1' ? 'standalone' : undefined,
};

export default nextConfig;
