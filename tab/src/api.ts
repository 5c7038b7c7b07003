/** Shapes of the tab API (src/tab-api), as the browser sees them. */
export interface RecordingRow {
  id: string;
  title: string;
  recordedAt: string;
  durationSeconds?: number;
  hasTranscript: boolean;
  stats?: {
    downloads: number;
    lastDownloadedAt?: string;
    views: number;
    lastViewedAt?: string;
    card: string;
  };
}

export interface MeetingRow {
  title: string;
  start: string;
  end: string;
  recordingStatus: string;
  failureReason?: string;
}

export interface ClassContext {
  user: { id: string; name?: string };
  role: 'learner' | 'instructor' | 'admin';
  class: { channelId: string; channelName?: string; teamName?: string };
  nextMeeting?: MeetingRow;
  meetings?: MeetingRow[];
}

export interface Cue {
  start: number;
  end: number;
  speaker?: string;
  text: string;
}

/** An API refusal, with the status and the server's plain-language message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls `/api/tab/…` with the SSO token as a Bearer token. */
export class TabApi {
  constructor(private readonly token: () => Promise<string>) {}

  private async call<T>(path: string, init: RequestInit = {}): Promise<T> {
    const token = await this.token();
    const res = await fetch(path, {
      ...init,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
    const body = (await res.json().catch(() => undefined)) as
      { error?: { message?: string } } | undefined;
    if (!res.ok)
      throw new ApiError(res.status, body?.error?.message ?? `The server answered ${res.status}.`);
    return body as T;
  }

  context(channelId: string): Promise<ClassContext> {
    return this.call(`/api/tab/context?${new URLSearchParams({ channelId })}`);
  }

  recordings(query: {
    channelId: string;
    q?: string;
    from?: string;
    to?: string;
    cursor?: string;
  }): Promise<{ items: RecordingRow[]; next?: string }> {
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => !!e[1]),
    );
    return this.call(`/api/tab/recordings?${params}`);
  }

  transcript(recordingId: string): Promise<{ title: string; cues: Cue[] }> {
    return this.call(`/api/tab/transcript?${new URLSearchParams({ recordingId })}`);
  }

  links(recordingId: string): Promise<{ playUrl: string; downloadUrl: string }> {
    return this.call(`/api/tab/links?${new URLSearchParams({ recordingId })}`, {
      method: 'POST',
    });
  }
}

/** Local mode's sign-in API (present only when the app runs against the simulator). */
export const localSignIn = {
  async classes(): Promise<{ channelId: string; channelName?: string; teamName?: string }[]> {
    const res = await fetch('/api/tab/local/classes');
    if (!res.ok) throw new ApiError(res.status, 'Local sign-in is not available on this server.');
    return res.json();
  },
  async users(channelId: string): Promise<{ id: string; name: string; owner: boolean }[]> {
    const res = await fetch(`/api/tab/local/users?${new URLSearchParams({ channelId })}`);
    if (!res.ok) throw new ApiError(res.status, 'Could not list the demo users.');
    return res.json();
  },
  async signIn(userId: string): Promise<string> {
    const res = await fetch('/api/tab/local/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    if (!res.ok) throw new ApiError(res.status, 'The simulated sign-in failed.');
    return ((await res.json()) as { token: string }).token;
  },
};
