// Amazon DynamoDB Local (the jar inside the amplify-dynamodb-simulator npm package), run
// with the system's Java 17 on a free loopback port: Amazon's own implementation, with the
// transactions and condition semantics dynalite approximates. Started per test file and
// stopped by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, connect } from 'node:net';
import { dirname, join } from 'node:path';

/** DynamoDB Local accepts any credentials whose access key id is letters and digits only. */
export const DYNAMODB_LOCAL_CREDENTIALS = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' } as const;

export interface DynamoDbLocal {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** The directory holding DynamoDBLocal.jar and its native libraries. */
export function dynamoDbLocalDir(): string {
  const pkg = createRequire(import.meta.url).resolve('amplify-dynamodb-simulator/package.json');
  return join(dirname(pkg), 'emulator');
}

export function javaPath(): string | undefined {
  return ['/usr/bin/java', ...(process.env.JAVA_HOME ? [join(process.env.JAVA_HOME, 'bin', 'java')] : [])].find((p) => existsSync(p));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export async function startDynamoDbLocal(options: { timeoutMs?: number } = {}): Promise<DynamoDbLocal> {
  const java = javaPath();
  if (!java) throw new Error('DynamoDB Local needs Java 17 (apt-get install -y openjdk-17-jre-headless)');
  const dir = dynamoDbLocalDir();
  const port = await freePort();
  const child: ChildProcess = spawn(java, [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-Xmx256m',
    '-jar', join(dir, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(port),
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => { gone = true; });

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await accepts(port))) {
    if (gone) throw new Error(`DynamoDB Local exited before listening on ${port}: ${output.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not listen on ${port} within ${options.timeoutMs ?? 60_000} ms: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const pid = child.pid!;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pid,
    async stop() {
      if (gone) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => { if (!gone) process.kill(pid, 'SIGKILL'); }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
