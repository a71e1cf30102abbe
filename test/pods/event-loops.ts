/**
 * Which event loop holds which connection, seen from outside the process: every libuv loop (the
 * main thread's and each worker thread's) has its own epoll instance, and /proc/PID/fdinfo of an
 * epoll fd lists the fds registered in it. Joining that with /proc/PID/net/tcp (the process's own
 * network namespace) tells how a proxy's accepted connections are spread across its workers.
 * The kernel relay's lanes (one epoll set per worker for its spliced connections, which Node's
 * loop also still lists) are not event loops and are left out: libuv registers every fd with the
 * fd itself as the event's data word, a lane registers pointers.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The target fds registered in one epoll instance, from its fdinfo text (`tfd: N events: ...`). */
export function parseEpollFdinfo(text: string): number[] {
  const fds: number[] = [];
  for (const m of text.matchAll(/^tfd:\s*(\d+)\s/gm)) fds.push(Number(m[1]));
  return fds;
}

/** Whether an epoll instance is a libuv loop's: each registration's data word (hex) is its own fd. */
export function isLibuvEpoll(text: string): boolean {
  for (const m of text.matchAll(/^tfd:\s*(\d+)\s+events:\s*[0-9a-f]+\s+data:\s*([0-9a-f]+)\s/gm)) {
    if (BigInt(`0x${m[2]}`) !== BigInt(m[1]!)) return false;
  }
  return true;
}

export interface TcpSocketRow {
  localPort: number;
  remotePort: number;
  /** Kernel state: 1 ESTABLISHED, 10 LISTEN, ... */
  state: number;
  inode: number;
}

/** Rows of /proc/net/tcp (or tcp6). */
export function parseProcNetTcp(text: string): TcpSocketRow[] {
  const rows: TcpSocketRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const port = (addr: string) => parseInt(addr.slice(addr.indexOf(':') + 1), 16);
    rows.push({ localPort: port(f[1]!), remotePort: port(f[2]!), state: parseInt(f[3]!, 16), inode: Number(f[9]) });
  }
  return rows;
}

/**
 * For each epoll instance of process `pid` that holds at least one established connection whose
 * local port is `port`, how many it holds; sorted descending. [n] means one loop has them all.
 */
export function connectionsPerEventLoop(pid: number, port: number): number[] {
  const inodes = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const r of parseProcNetTcp(text)) if (r.localPort === port && r.state === 1) inodes.add(r.inode);
  }
  const socketOfFd = new Map<number, number>();
  const epolls: number[] = [];
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue; // closed meanwhile
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) socketOfFd.set(Number(name), Number(m[1]));
    else if (link === 'anon_inode:[eventpoll]') epolls.push(Number(name));
  }
  const counts: number[] = [];
  for (const ep of epolls) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${ep}`, 'utf8');
    } catch {
      continue;
    }
    if (!isLibuvEpoll(text)) continue;
    const n = parseEpollFdinfo(text).filter((fd) => inodes.has(socketOfFd.get(fd) ?? -1)).length;
    if (n > 0) counts.push(n);
  }
  return counts.sort((a, b) => b - a);
}
