import fs from 'node:fs';
import tls from 'node:tls';
import { Agent, fetch, type Dispatcher } from 'undici';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

/**
 * The HTTPS dispatcher for Graph and Entra ID. With `extraCaFile` (local mode: the Graph
 * simulator's CA) that CA is trusted in addition to the system roots; verification is never off.
 */
export function createDispatcher(extraCaFile?: string): Dispatcher {
  if (!extraCaFile) return new Agent();
  return new Agent({
    connect: { ca: [...tls.rootCertificates, fs.readFileSync(extraCaFile, 'utf8')] },
  });
}

async function toNetworkResponse<T>(
  res: Awaited<ReturnType<typeof fetch>>,
): Promise<NetworkResponse<T>> {
  const text = await res.text();
  let body: unknown = {};
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = {
        error: 'invalid_response',
        error_description: `Non-JSON response (HTTP ${res.status})`,
      };
    }
  }
  return { headers: Object.fromEntries(res.headers), body: body as T, status: res.status };
}

/** msal-node's network client, over the same dispatcher (so the same trusted CAs). */
export function msalNetworkClient(dispatcher: Dispatcher): INetworkModule {
  return {
    async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number) {
      const res = await fetch(url, {
        headers: options?.headers,
        dispatcher,
        signal: timeout ? AbortSignal.timeout(timeout) : undefined,
      });
      return toNetworkResponse<T>(res);
    },
    async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions) {
      const res = await fetch(url, {
        method: 'POST',
        headers: options?.headers,
        body: options?.body,
        dispatcher,
      });
      return toNetworkResponse<T>(res);
    },
  };
}
