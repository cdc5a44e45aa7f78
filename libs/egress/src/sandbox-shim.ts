/**
 * Preloaded into every sandboxed Node process (`NODE_OPTIONS=--require <this file>`): the
 * sandbox has its own network namespace with nothing but loopback, so a TCP connection to any
 * other host is sent to the platform's egress proxy instead (docs/security/egress.md).
 *
 * Each destination gets an address of its own in 127.1.0.0/16 and the connection goes to one
 * listener of this process on that address; the listener reads which address was dialled,
 * asks the proxy (HTTP CONNECT over the Unix socket bound into the sandbox) for the destination
 * and pipes the bytes. Names are never resolved here: the proxy resolves and checks them. This
 * is a convenience for honest servers, not the boundary: code that skips it reaches nothing,
 * because the namespace has no route out.
 */
export const SANDBOX_SHIM_SOURCE = `'use strict';
(() => {
  const net = require('node:net');
  const socketPath = process.env.ATHENIC_EGRESS_SOCKET;
  if (!socketPath || net.Socket.prototype.__athenicEgress) return;
  const destinations = new Map(); // "host:port" -> loopback address
  const byAddress = new Map(); // loopback address -> { host, port }
  let next = 1;
  let listenPort = 0;

  const listener = net.createServer({ pauseOnConnect: true }, (client) => {
    const local = String(client.localAddress || '').replace(/^::ffff:/, '');
    const dest = byAddress.get(local);
    if (!dest) return client.destroy();
    const tunnel = originalConnect.call(new net.Socket(), { path: socketPath });
    let head = Buffer.alloc(0);
    const fail = () => { client.destroy(); tunnel.destroy(); };
    tunnel.on('error', fail);
    client.on('error', fail);
    tunnel.on('connect', () => {
      const authority = dest.host.includes(':') ? '[' + dest.host + ']:' + dest.port : dest.host + ':' + dest.port;
      tunnel.write('CONNECT ' + authority + ' HTTP/1.1\\r\\nHost: ' + authority + '\\r\\n\\r\\n');
    });
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\\r\\n\\r\\n');
      if (end < 0) { if (head.length > 8192) fail(); return; }
      tunnel.removeListener('data', onData);
      if (!/^HTTP\\/1\\.[01] 200/.test(head.subarray(0, end).toString('latin1'))) return fail();
      const rest = head.subarray(end + 4);
      if (rest.length) client.write(rest);
      client.pipe(tunnel).pipe(client);
      client.on('close', () => tunnel.destroy());
      tunnel.on('close', () => client.destroy());
      client.resume();
    };
    tunnel.on('data', onData);
  });
  listener.on('error', () => {});
  // Bound now, synchronously: the server's first connection may come at once.
  listener.listen(0);
  listener.unref();

  function loopbackFor(host, port) {
    const key = host + ':' + port;
    let address = destinations.get(key);
    if (!address) {
      if (next > 65000) return null;
      address = '127.1.' + (next >> 8) + '.' + (next & 255);
      next++;
      destinations.set(key, address);
      byAddress.set(address, { host, port });
    }
    return address;
  }

  // Loopback is the sandbox's own, except the loopback targets the platform was told to reach
  // (an on-premise service opened with EGRESS_ALLOW_PRIVATE on the platform's host).
  const outside = new Set(String(process.env.ATHENIC_EGRESS_LOOPBACK || '').split(',').filter(Boolean));
  const isLocal = (host, port) => !outside.has(host + ':' + port) && (/^(localhost|127\\.|::1$|0\\.0\\.0\\.0$|::$)/i.test(host) || host === '');
  const originalConnect = net.Socket.prototype.connect;
  net.Socket.prototype.__athenicEgress = true;
  net.Socket.prototype.connect = function (...args) {
    let normalized = null;
    let options;
    if (Array.isArray(args[0])) { normalized = args[0]; options = normalized[0]; }
    else if (args[0] !== null && typeof args[0] === 'object') options = args[0];
    else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\\d+$/.test(args[0])))
      options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : 'localhost' };
    if (!options || options.path || options.port === undefined) return originalConnect.apply(this, args);
    const host = String(options.host || 'localhost').replace(/^\\[(.*)\\]$/, '$1');
    if (isLocal(host, Number(options.port))) return originalConnect.apply(this, args);
    if (!listenPort) listenPort = listener.address() && listener.address().port;
    const address = loopbackFor(host, Number(options.port));
    if (!address || !listenPort) return originalConnect.apply(this, args);
    const rewritten = Object.assign({}, options, { host: address, port: listenPort, lookup: undefined, family: 4, autoSelectFamily: false, localAddress: undefined });
    if (normalized) { normalized[0] = rewritten; return originalConnect.call(this, normalized); }
    const callback = args.find((a) => typeof a === 'function');
    return callback ? originalConnect.call(this, rewritten, callback) : originalConnect.call(this, rewritten);
  };
})();
`;
