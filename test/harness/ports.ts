import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. The OS picks it (port 0), so two
 * parallel callers never get the same one; someone else may still grab it before we bind.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("freePort: no port assigned"))));
    });
  });
}

/** The first port the kernel hands out for port 0 and outgoing connections (Linux's default when unreadable). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A free port below the kernel's ephemeral range, for a process that binds it only seconds later
 * (a CLI started through npm): `freePort`'s ports go back to that range, where another test's
 * `freePort` or an outgoing connection can take one meanwhile; nothing hands these out.
 */
export async function freePortOutsideEphemeral(): Promise<number> {
  const low = ephemeralLow();
  for (let tries = 0; tries < 50; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.unref();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("freePortOutsideEphemeral: no free port found below the ephemeral range");
}

/** Resolves true once something accepts TCP connections on host:port, false on refusal. */
export async function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
