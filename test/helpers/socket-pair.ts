// A connected loopback TCP pair for tests that need a real socket under a Connection.
import net from 'node:net';

export interface SocketPair {
  /** our side (what a Connection wraps) */
  sock: net.Socket;
  /** the server's side */
  peer: net.Socket;
  /** destroys both ends and stops listening */
  close(): void;
}

export async function socketPair(): Promise<SocketPair> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const peer = await accepted;
  return {
    sock,
    peer,
    close: () => {
      sock.destroy();
      peer.destroy();
      server.close();
    },
  };
}
