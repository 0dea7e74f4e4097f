/**
 * A network namespace of the test's own, reached from this machine through one veth pair per
 * path, with addresses (10.213.x.y/30) that exist only on those links: a Redis inside it can be
 * cut off from one server silently (the link set down: no RST, no FIN, packets just vanish) while
 * another still reaches it. Needs root on Linux; `NetworkNamespace.unavailable()` says why not.
 */

const decoder = new TextDecoder();

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${decoder.decode(out.stderr).trim()}`);
}

/** One path into the namespace: this side's link, and the address to reach the namespace at. */
export interface Path {
  /** The veth end on this machine's side. */
  link: string;
  /** The veth end inside the namespace, which {@linkcode NetworkNamespace.cut} sets down. */
  inner: string;
  /** The namespace's address on this path. */
  address: string;
}

export class NetworkNamespace implements AsyncDisposable {
  readonly paths: Path[] = [];

  private constructor(readonly name: string, readonly subnet: number) {}

  /** Why namespaces cannot be made here, or `undefined` when they can. */
  static async unavailable(): Promise<string | undefined> {
    if (Deno.build.os !== "linux") return "network namespaces are Linux's";
    if (Deno.uid() !== 0) return "making network namespaces needs root";
    try {
      const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" })
        .output();
      if (!out.success) return "`ip netns` does not work here";
    } catch {
      return "the `ip` command (iproute2) is not installed";
    }
    return undefined;
  }

  /** Makes a namespace with `paths` veth pairs into it. */
  static async create(paths: number): Promise<NetworkNamespace> {
    const id = crypto.getRandomValues(new Uint8Array(1))[0];
    const ns = new NetworkNamespace(`parley-test-${Deno.pid}-${id}`, id);
    await ip("netns", "add", ns.name);
    try {
      await ip("-n", ns.name, "link", "set", "lo", "up");
      for (let i = 0; i < paths; i++) {
        // A /30 each: .1 on this side, .2 inside.
        const base = `10.213.${id}.${4 * i}`;
        const [outer, inner] = [`prl${id}x${i}`, `prl${id}y${i}`];
        const [near, far] = [
          base.replace(/\d+$/, String(4 * i + 1)),
          base.replace(/\d+$/, String(4 * i + 2)),
        ];
        await ip("link", "add", outer, "type", "veth", "peer", "name", inner);
        await ip("link", "set", inner, "netns", ns.name);
        await ip("addr", "add", `${near}/30`, "dev", outer);
        await ip("-n", ns.name, "addr", "add", `${far}/30`, "dev", inner);
        await ip("link", "set", outer, "up");
        await ip("-n", ns.name, "link", "set", inner, "up");
        ns.paths.push({ link: outer, inner, address: far });
      }
    } catch (error) {
      await ns[Symbol.asyncDispose]();
      throw error;
    }
    return ns;
  }

  /** The command prefix that runs a program inside the namespace. */
  get exec(): string[] {
    return ["ip", "netns", "exec", this.name];
  }

  /**
   * Cuts path `index` silently: the far end of its link goes down, so that what is sent on it is
   * lost on the way, with no error on this side (setting this side's end down would remove the
   * route, and a write would fail at once: not silent).
   */
  cut(index: number): Promise<void> {
    return ip("-n", this.name, "link", "set", this.paths[index].inner, "down");
  }

  /** Mends path `index`. */
  mend(index: number): Promise<void> {
    return ip("-n", this.name, "link", "set", this.paths[index].inner, "up");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const path of this.paths) await ip("link", "del", path.link).catch(() => {});
    await ip("netns", "del", this.name).catch(() => {});
  }
}
