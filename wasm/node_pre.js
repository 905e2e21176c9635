// wasm/node_pre.js — runs inside the module factory (--pre-js): in node, read medgate.wasm from disk unless the
// caller already gave the module its bytes or its own way to find them.
if (medgateReadWasmInNode && !Module['wasmBinary'] && !Module['locateFile'] && !Module['instantiateWasm']) {
  Module['wasmBinary'] = medgateReadWasmInNode();
}
