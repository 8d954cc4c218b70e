// The backend of ws-app.mjs: a WebSocket that echoes.
export default {
  fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (event) => server.send(`echo ${event.data}`));
    return new Response(null, { status: 101, webSocket: client });
  },
};
