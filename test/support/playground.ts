import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import WebSocket from 'ws';
import YAML from 'yaml';
import { tempDir } from './mongo.js';
import { freePort } from '../../dev/net.js';

/** What the Playground's web client receives over its conversation socket. */
export interface PlaygroundEvent {
  action: 'createMessage' | 'updateMessage' | 'typing' | string;
  actionConversationId: string;
  message?: {
    messageId: string;
    from: { id: string };
    text?: string;
    attachments?: { contentType: string; content: Record<string, unknown> }[];
    postConversationId?: string;
  };
}

export const PLAYGROUND_CONFIG = path.resolve(
  import.meta.dirname,
  '../../.m365agentsplayground.yml',
);
/** The ids the repo's .m365agentsplayground.yml gives the bot, the instructor and a learner. */
export const PG = {
  bot: { id: '28:classroom-recorder-local', name: 'Classroom Recorder' },
  instructor: '29:maya',
  learner: '29:ada',
  general: '19:general-biology101@thread.tacv2',
  personal: 'personal-chat-maya',
} as const;

interface PlaygroundUser {
  id: string;
  name: string;
}

/** The repo's Playground config, parsed. */
export function readPlaygroundConfig(file = PLAYGROUND_CONFIG) {
  return YAML.parse(fs.readFileSync(file, 'utf8')) as {
    tenantId: string;
    bot: PlaygroundUser;
    currentUser: PlaygroundUser & { aadObjectId: string; email: string };
    users: (PlaygroundUser & { aadObjectId: string; email: string })[];
    team: {
      id: string;
      name: string;
      aadGroupId: string;
      channels: { id: string; name: string }[];
    };
  };
}

/**
 * The repo's Playground config with another of its users as the one typing (the Playground
 * sends every message as its current user), written to a temporary file.
 */
export function playgroundConfigAs(userId: string): { path: string; remove(): void } {
  const config = readPlaygroundConfig();
  const user = config.users.find((u) => u.id === userId);
  if (!user) throw new Error(`${userId} is not in ${PLAYGROUND_CONFIG}`);
  config.users = [config.currentUser, ...config.users.filter((u) => u.id !== userId)];
  config.currentUser = user;
  const dir = tempDir('cr-playground-config-');
  const file = path.join(dir.dir, '.m365agentsplayground.yml');
  fs.writeFileSync(file, YAML.stringify(config));
  return { path: file, remove: dir.remove };
}

/**
 * The Microsoft 365 Agents Playground from npm, driven the way its web client drives it:
 * messages and card submits through its HTTP API (`/_conversation/v1/…`), the bot's replies
 * read from its conversation WebSocket.
 */
export async function startPlayground(appUrl: string, configPath = PLAYGROUND_CONFIG) {
  const cli = createRequire(import.meta.url).resolve('@microsoft/m365agentsplayground/cli.js');
  const logs = tempDir('cr-playground-');
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'start', '-e', `${appUrl}/api/messages`, '-c', 'msteams', '-p', String(port), '--dt'],
    {
      env: {
        ...process.env,
        TEAMSAPPTESTER_BROWSER: 'none',
        M365_AGENTS_PLAYGROUND_CONFIG_PATH: configPath,
        M365_AGENTS_PLAYGROUND_LOGFILE: path.join(logs.dir, 'playground.log'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`the Playground did not start:\n${out}`)),
      30_000,
    );
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /Listening on (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Playground exited (${code}):\n${out}`));
    });
  });
  return connectPlayground(base, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    logs.remove();
  });
}

/** A client for a running Playground: its HTTP API, and its conversation WebSocket. */
export async function connectPlayground(
  base: string,
  onStop: () => Promise<void> = async () => {},
) {
  const events: PlaygroundEvent[] = [];
  const ws = new WebSocket(
    `${base.replace('http', 'ws')}/_ws_conversation/v1/conversations/stream`,
  );
  ws.on('message', (data) => events.push(JSON.parse(data.toString()) as PlaygroundEvent));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });

  async function api(route: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${base}/_conversation/v1/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new Error(`Playground ${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  const pg = {
    base,
    events,
    /** Bot messages created or updated in a conversation (or thread) so far. */
    botMessages(conversationId?: string) {
      return events.filter(
        (e) =>
          (e.action === 'createMessage' || e.action === 'updateMessage') &&
          e.message?.from.id === PG.bot.id &&
          (!conversationId || e.actionConversationId === conversationId),
      );
    },
    /** Waits for an event that satisfies `test`, looking at events from index `from` on. */
    async waitFor(
      test: (e: PlaygroundEvent) => boolean,
      what: string,
      from = 0,
      timeoutMs = 15_000,
    ): Promise<PlaygroundEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.slice(from).find(test);
        if (hit) return hit;
        if (Date.now() > deadline)
          throw new Error(
            `timed out waiting for ${what}; the Playground saw:\n${JSON.stringify(events.slice(from), null, 1).slice(0, 4000)}`,
          );
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    /**
     * Types a message. In a channel, the bot hears only @mentions, as in Teams, so the message
     * mentions it. Returns the conversation the replies go to (a channel post is its own thread).
     */
    async say(
      conversationId: string,
      text: string,
      options: { from?: string; mention?: boolean } = {},
    ): Promise<{ thread: string; mark: number }> {
      const mark = events.length;
      const mention = options.mention ?? conversationId.startsWith('19:');
      const at = `<at>${PG.bot.name}</at>`;
      const r = await api(`conversations/${encodeURIComponent(conversationId)}/messages`, {
        from: { id: options.from ?? PG.instructor },
        text: mention ? `${at} ${text}` : text,
        textFormat: 'plain',
        ...(mention ? { mentions: [{ mentioned: { id: PG.bot.id }, text: at }] } : {}),
      });
      return { thread: String(r.postConversationId ?? conversationId), mark };
    },
    /** Presses an Action.Submit button on the card message `replyToId` with these inputs. */
    async submit(
      conversationId: string,
      replyToId: string,
      value: Record<string, unknown>,
      from: string = PG.instructor,
    ): Promise<number> {
      const mark = events.length;
      await api('submit', {
        conversation: { id: conversationId },
        from: { id: from },
        replyToId,
        value,
      });
      return mark;
    },
    /** Presses an Action.Execute button: the Playground sends `adaptiveCard/action` and returns the bot's answer. */
    async invoke(
      conversationId: string,
      replyToId: string,
      value: Record<string, unknown>,
      from: string = PG.instructor,
    ): Promise<{ statusCode?: number; value?: unknown }> {
      return (await api('invoke', {
        name: 'adaptiveCard/action',
        value,
        from: { id: from },
        conversation: { id: conversationId },
        replyToId,
      })) as { statusCode?: number; value?: unknown };
    },
    async stop(): Promise<void> {
      ws.close();
      await onStop();
    },
  };
  return pg;
}

export type Playground = Awaited<ReturnType<typeof connectPlayground>>;

/** The first Adaptive Card on a Playground message. */
export function cardOf(e: PlaygroundEvent | undefined): Record<string, unknown> & {
  body: Record<string, unknown>[];
  actions?: { data?: Record<string, unknown> }[];
} {
  const card = e?.message?.attachments?.find(
    (a) => a.contentType === 'application/vnd.microsoft.card.adaptive',
  )?.content;
  if (!card) throw new Error(`no Adaptive Card on ${JSON.stringify(e)}`);
  return card as never;
}

/** The first line of a message's Adaptive Card ('' when it has none). */
export function headingOf(e: PlaygroundEvent): string {
  const card = e.message?.attachments?.find(
    (a) => a.contentType === 'application/vnd.microsoft.card.adaptive',
  )?.content as { body?: { text?: unknown }[] } | undefined;
  return String(card?.body?.[0]?.text ?? '');
}
