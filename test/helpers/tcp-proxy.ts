/**
 * A real TCP proxy (node:net) in front of a database server, to cut one node off from the DB while
 * the others keep their own direct connections.
 *
 *     const proxy = new TcpProxy("127.0.0.1", 5432);
 *     const port = await proxy.start();          // clients connect to 127.0.0.1:port
 *     await proxy.stop();                        // listener closed, every open socket destroyed
 *     await proxy.resume();                      // listens again on the same port
 *
 * `stop()` is a hard cut: connection attempts are refused and open connections are reset, on both
 * sides. `blackhole()` is the silent variant (a partition that drops packets): the listener stays up
 * and open connections stay open, but nothing is forwarded either way and new connections hang.
 */
import net from "node:net";

export class TcpProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private silent = false;
  port = 0;
  /** Connections accepted since start (both directions count as one). */
  accepted = 0;

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** Listens on `port` (0: a free one) and returns the port. */
  async start(port = 0): Promise<number> {
    await this.listen(port);
    return this.port;
  }

  /** The URL `url` (a DB URL) with its host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  private listen(port: number): Promise<void> {
    this.silent = false;
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        server.off("error", reject);
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    this.track(client);
    if (this.silent) return; // accepted, then never answered
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    this.track(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on("data", (chunk: Buffer) => {
        if (this.silent) return; // dropped on the floor
        if (!to.destroyed) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    // One side closing or failing closes the other; no half-open pairs.
    const both = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", both);
    upstream.on("close", both);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => this.sockets.delete(socket));
  }

  /** Closes the listener and destroys every open socket on both sides: the node behind it is cut off. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Keeps every connection open but forwards nothing, and leaves new connections unanswered. */
  blackhole(): void {
    this.silent = true;
  }

  /** Listens again on the same port (after stop()), or forwards again (after blackhole()). */
  async resume(): Promise<void> {
    if (this.silent && this.server?.listening) {
      // The held connections carry half-sent protocol messages: drop them, clients reconnect.
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
      this.silent = false;
      return;
    }
    if (this.server?.listening) return;
    // The port was ours a moment ago; another process may grab it in between only by accident.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.listen(this.port);
        return;
      } catch (error) {
        if (attempt >= 50) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
