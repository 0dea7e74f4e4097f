/**
 * A real Redis for tests: Debian's `redis-server`, on a free port of 127.0.0.1, keeping nothing on
 * disk, stopped by its PID. It can be killed and started again on the same port, as an outage.
 */

import { type ProcessHandle, type ServerProcess, spawnProcess, startServer, TestClient } from "./harness.ts";

/** A `redis-server` the test started. */
/** Options for {@linkcode RedisServer.start}. */
export interface RedisServerOptions {
  /** More `redis-server` flags, such as `--requirepass x`. */
  args?: string[];
  /** Speak only TLS, with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
  /** A command to run it under, such as `taskset -c 0`. */
  prefix?: string[];
}

export class RedisServer implements AsyncDisposable {
  #process: ProcessHandle | undefined;
  #options: RedisServerOptions;

  private constructor(readonly port: number, options: RedisServerOptions) {
    this.#options = options;
  }

  /** Starts one on a free port. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    for (let attempt = 1;; attempt++) {
      const redis = new RedisServer(freePort(), options);
      try {
        await redis.restart();
        return redis;
      } catch (error) {
        // Someone took the port between the probe and the bind; try another.
        if (attempt === 5) throw error;
      }
    }
  }

  /** Its process id, while it runs. */
  get pid(): number {
    return this.#process!.pid;
  }

  /** `redis://127.0.0.1:PORT`, or `rediss://` with TLS. */
  get url(): string {
    return `${this.#options.tls ? "rediss" : "redis"}://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on its port, with no data. */
  async restart(): Promise<void> {
    const { args = [], tls, prefix = [] } = this.#options;
    const [program, ...before] = [...prefix, "redis-server"];
    const process = spawnProcess(program, [
      ...before,
      ...(tls ? ["--port", "0", "--tls-port"] : ["--port"]),
      String(this.port),
      ...["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ...(tls ? ["--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--tls-auth-clients", "no"] : []),
      ...args,
    ], { label: "redis" });
    try {
      await process.stdout.waitFor(/Ready to accept connections/, 10_000);
    } catch (error) {
      await process[Symbol.asyncDispose]();
      throw error;
    }
    this.#process = process;
  }

  /** Kills it at once, as a crash would. */
  async kill(): Promise<void> {
    await this.#process?.stop("SIGKILL");
    await this.#process?.[Symbol.asyncDispose]();
    this.#process = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}

/**
 * A Redis Cluster of 3 primaries on one machine (Redis 7: `--cluster-enabled yes`, then
 * `redis-cli --cluster create`), each on free ports of 127.0.0.1 with its own directory for the
 * cluster's state file; stopped by their PIDs, the directory removed.
 */
export class RedisCluster implements AsyncDisposable {
  private constructor(readonly nodes: RedisServer[], readonly dir: string) {}

  /** Starts 3 primaries and joins them into one cluster, every slot served. */
  static async start(options: { prefix?: string[] } = {}): Promise<RedisCluster> {
    const dir = await Deno.makeTempDir({ prefix: "parley-cluster-" });
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        nodes.push(
          await RedisServer.start({
            prefix: options.prefix,
            args: [
              ...["--cluster-enabled", "yes", "--cluster-port", String(freePort())],
              ...["--cluster-config-file", `${dir}/node-${i}.conf`, "--dir", dir],
            ],
          }),
        );
      }
      const create = await new Deno.Command("redis-cli", {
        args: ["--cluster", "create", ...nodes.map((node) => `127.0.0.1:${node.port}`), "--cluster-yes"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!create.success) {
        throw new Error(`redis-cli --cluster create failed: ${new TextDecoder().decode(create.stdout)}`);
      }
      const cluster = new RedisCluster(nodes, dir);
      await cluster.#ready();
      return cluster;
    } catch (error) {
      for (const node of nodes) await node[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
  }

  /** `redis+cluster://127.0.0.1:PORT,...`. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((node) => `127.0.0.1:${node.port}`).join(",")}`;
  }

  /** The keys `node` holds. */
  async keysOn(node: RedisServer): Promise<string[]> {
    return (await this.cli(node, "--scan")).split("\n").filter((key) => key !== "");
  }

  /** Runs `redis-cli` against `node`; its output. */
  async cli(node: RedisServer, ...args: string[]): Promise<string> {
    const output = await new Deno.Command("redis-cli", {
      args: ["-p", String(node.port), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  }

  /** Waits until every node says the cluster is ok. */
  async #ready(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (const node of this.nodes) {
      while (!(await this.cli(node, "CLUSTER", "INFO")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error("the cluster did not come up within 20 s");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const node of this.nodes) await node[Symbol.asyncDispose]();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * A port nobody listens on right now. Redis cannot listen on port 0 and say which port it got, so
 * this is the one place a port is picked in advance; `start` tries another if it was taken.
 */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A chat server in the chat on `redis` (one server, or a cluster). */
export async function chatServer(redis: { url: string }, extra: string[] = []): Promise<ServerProcess> {
  return await startServer(["--mode", "chat", "--redis", redis.url, ...extra]);
}

/** A client of `server`, welcomed; returns it with the name it was given. */
export async function member(
  server: ServerProcess,
  label: string,
): Promise<{ client: TestClient; name: string }> {
  const client = await TestClient.connect(server.port, { label });
  const welcome = await client.lines.waitFor(/^\* welcome, /);
  return { client, name: /^\* welcome, (user\d+):/.exec(welcome)![1] };
}

/** Sends `/who` and returns the names it lists. */
export async function who(client: TestClient): Promise<string[]> {
  await client.send("/who");
  const line = await client.lines.waitFor(/^\* online: /);
  return line.slice("* online: ".length).split(", ").sort();
}

/**
 * Redis with Sentinel on one machine: a primary, one replica and three sentinels that watch them
 * (a primary is down after 1 s of silence, a failover may take 3 s), each on a free port of
 * 127.0.0.1, stopped by their PIDs.
 */
export class RedisSentinels implements AsyncDisposable {
  static readonly MASTER = "parley-primary";

  private constructor(
    readonly primary: RedisServer,
    readonly replica: RedisServer,
    readonly sentinels: { port: number; process: ProcessHandle; dir: string }[],
  ) {}

  /** Starts them all, and waits until every sentinel knows the replica. */
  static async start(): Promise<RedisSentinels> {
    const primary = await RedisServer.start();
    const replica = await RedisServer.start({ args: ["--replicaof", "127.0.0.1", String(primary.port)] });
    const sentinels = [];
    for (let i = 0; i < 3; i++) {
      const port = freePort();
      const dir = await Deno.makeTempDir({ prefix: "parley-sentinel-" });
      const config = [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${RedisSentinels.MASTER} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${RedisSentinels.MASTER} 1000`,
        `sentinel failover-timeout ${RedisSentinels.MASTER} 3000`,
        `sentinel parallel-syncs ${RedisSentinels.MASTER} 1`,
      ].join("\n");
      await Deno.writeTextFile(`${dir}/sentinel.conf`, config + "\n");
      const process = spawnProcess("redis-server", [`${dir}/sentinel.conf`, "--sentinel"], {
        label: `sentinel${i}`,
      });
      await process.stdout.waitFor(/Sentinel ID is|Running mode=sentinel|monitor master/, 10_000);
      sentinels.push({ port, process, dir });
    }
    const set = new RedisSentinels(primary, replica, sentinels);
    // Every sentinel has found the replica (through the primary's INFO) before anyone fails over.
    const deadline = Date.now() + 15_000;
    for (const { port } of sentinels) {
      while (true) {
        const out = await new Deno.Command("redis-cli", {
          args: ["-p", String(port), "SENTINEL", "replicas", RedisSentinels.MASTER],
        }).output();
        if (new TextDecoder().decode(out.stdout).includes(String(replica.port))) break;
        if (Date.now() > deadline) throw new Error(`sentinel on ${port} never saw the replica`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return set;
  }

  /** `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/parley-primary`. */
  get url(): string {
    return `redis+sentinel://${
      this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")
    }/${RedisSentinels.MASTER}`;
  }

  /** The port of the primary the sentinels name now. */
  async primaryPort(): Promise<number> {
    const out = await new Deno.Command("redis-cli", {
      args: [
        "-p",
        String(this.sentinels[0].port),
        "SENTINEL",
        "get-master-addr-by-name",
        RedisSentinels.MASTER,
      ],
    }).output();
    return Number(new TextDecoder().decode(out.stdout).trim().split("\n")[1]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const { process, dir } of this.sentinels) {
      await process.stop("SIGKILL");
      await process[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    await this.replica.kill();
    await this.primary.kill();
  }
}
