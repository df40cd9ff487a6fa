/**
 * The brokers a suite runs on: Redis when ALOFT_TEST_REDIS_URL is set, RabbitMQ when ALOFT_TEST_AMQP_URL
 * is set (CI sets both). Restarting one is real: the server process stops and starts again.
 */
import { execSync, spawn, type ChildProcess } from "node:child_process";
import { BIN, waitFor } from "./aloft.js";

export interface TestBroker {
  name: "redis" | "rabbitmq";
  url: string;
  /** Stops the broker server and starts it again; resolves once it takes connections. */
  restart(): Promise<void>;
}

/** How the machine starts Redis (no persistence: a restart loses every message). */
const REDIS_START =
  process.env.ALOFT_TEST_REDIS_START ??
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

export function testBrokers(): TestBroker[] {
  const out: TestBroker[] = [];
  const redis = process.env.ALOFT_TEST_REDIS_URL;
  if (redis) {
    out.push({
      name: "redis",
      url: redis,
      async restart() {
        const port = new URL(redis).port || "6379";
        execSync(`redis-cli -p ${port} shutdown nosave`, { stdio: "ignore" });
        execSync(REDIS_START, { stdio: "ignore" });
        await waitFor("Redis to come back", async () => (tryExec(`redis-cli -p ${port} ping`) === "PONG" ? true : undefined), 30_000);
      },
    });
  }
  const amqp = process.env.ALOFT_TEST_AMQP_URL;
  if (amqp) {
    out.push({
      name: "rabbitmq",
      url: amqp,
      async restart() {
        execSync("rabbitmqctl stop_app", { stdio: "ignore" });
        execSync("rabbitmqctl start_app", { stdio: "ignore" });
        execSync("rabbitmqctl await_startup", { stdio: "ignore" });
      },
    });
  }
  return out;
}

function tryExec(command: string): string | undefined {
  try {
    return execSync(command, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** An `aloft worker` process. */
export class WorkerProcess {
  private child?: ChildProcess;
  stderr = "";
  exitCode?: number | null;

  constructor(
    readonly name: string,
    readonly queues: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly concurrency = 4,
  ) {}

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [BIN, "worker", "--name", this.name, "--queues", this.queues.join(","), "--concurrency", String(this.concurrency)], {
      env: { ...process.env, ...this.env, ALOFT_LOG_LEVEL: "info" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.child.on("exit", (code) => (this.exitCode = code));
    await waitFor(`worker ${this.name} to start`, async () => (this.stderr.includes('"worker started"') ? true : this.exited()), 60_000);
  }

  private exited(): undefined {
    if (this.exitCode !== undefined) throw new Error(`worker ${this.name} exited with code ${this.exitCode}: ${this.stderr}`);
    return undefined;
  }

  get pid(): number {
    return this.child!.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Waits for the process to exit (SIGKILL after `timeoutMs`). */
  async waitForExit(timeoutMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    clearTimeout(timer);
    return code;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await this.waitForExit(20_000);
  }
}
