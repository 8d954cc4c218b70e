// The baseline of bench/gateway-load.mjs: the least a worker can do in front of an origin (pass
// the request through with fetch), on the same local runtime as the gateway.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const origin = JSON.parse(env.ORIGINS)[0].url;
    return fetch(origin + url.pathname + url.search, request);
  },
};
