import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  body: string;
}

/** A keep-alive JSON client of the gateway for the outside benches: one request at a time per caller. */
export class Http {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly target: URL;

  constructor(baseUrl: string) {
    this.target = new URL(baseUrl);
  }

  call(method: 'GET' | 'POST' | 'DELETE', path: string, token: string | undefined, json?: unknown): Promise<Answer> {
    const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise<Answer>((resolve, reject) => {
      const req = request({ host: this.target.hostname, port: this.target.port, path, method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
