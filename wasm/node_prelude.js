// wasm/node_prelude.js — put before medgate.mjs (--extern-pre-js): lets the ES6 module run in node as is.
// Emscripten 3.1.6's node code path uses `require` and `__dirname`, which ES modules do not have, and fetches
// `file://` URLs, which node's fetch cannot. In node this defines both from import.meta.url, and node_pre.js
// reads medgate.wasm from beside this file. In a browser it defines nothing that the module uses.
const medgateIsNode =
  typeof process == 'object' && typeof process.versions == 'object' && typeof process.versions.node == 'string';
const require = medgateIsNode
  ? (await import(/* webpackIgnore: true */ 'node:module')).createRequire(import.meta.url)
  : undefined;
const __dirname = medgateIsNode ? require('node:path').dirname(require('node:url').fileURLToPath(import.meta.url)) : '';
const medgateReadWasmInNode = medgateIsNode
  ? () => require('node:fs').readFileSync(new URL('medgate.wasm', import.meta.url))
  : undefined;
