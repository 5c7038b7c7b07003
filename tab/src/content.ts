import {
  ApiError,
  localSignIn,
  TabApi,
  type ClassContext,
  type Cue,
  type RecordingRow,
} from './api.js';
import { clear, clock, duration, h } from './dom.js';
import { applyTheme, connectHost, localToken, type Host } from './host.js';

const STATUS_TEXT: Record<string, string> = {
  enabled: 'Recording on',
  pending: 'Being set up',
  failed_permission: 'Failed: permission missing',
  failed_policy: 'Failed: access policy missing',
  failed_graph: 'Failed: Microsoft Graph error',
  cancelled: 'Cancelled',
};

const main = document.getElementById('main')!;
const status = document.getElementById('status')!;

/** Announces a state change to screen readers and shows it. */
function say(text: string, kind: 'info' | 'error' = 'info'): void {
  status.textContent = text;
  status.className = kind === 'error' ? 'status error' : 'status';
  status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

async function start(): Promise<void> {
  let host: Host;
  try {
    host = await connectHost();
  } catch (err) {
    say(`Could not connect to Teams: ${(err as Error).message}`, 'error');
    return;
  }
  applyTheme(host.theme);
  host.onThemeChange(applyTheme);
  if (!host.inTeams) {
    document.getElementById('local-banner')!.hidden = false;
    if (!localToken.get() || !host.channelId) return renderLocalSignIn(host);
  }
  if (!host.channelId) {
    say(
      'This tab is not bound to a class channel. Add it to a channel of the class team.',
      'error',
    );
    return;
  }
  await renderClass(host, host.channelId);
}

/** Local mode only: pick a class and a demo user; the simulator issues the SSO token. */
async function renderLocalSignIn(host: Host): Promise<void> {
  clear(main);
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Local sign-in (simulated tenant)'),
    h(
      'p',
      {},
      'You are outside Teams, so there is no Teams sign-in here. Pick a class and one of the demo users of the simulated tenant. In Teams, you are signed in automatically.',
    ),
  );
  main.append(section);
  let classes: Awaited<ReturnType<typeof localSignIn.classes>>;
  try {
    say('Loading classes…');
    classes = await localSignIn.classes();
  } catch (err) {
    say((err as Error).message, 'error');
    return;
  }
  if (!classes.length) {
    say('No class yet: schedule a class with the bot first (see the Playground).', 'info');
    return;
  }
  const select = h('select', { id: 'class-select' });
  for (const c of classes)
    select.append(
      h(
        'option',
        { value: c.channelId, selected: c.channelId === host.channelId },
        `${c.teamName ?? 'Team'} › ${c.channelName ?? c.channelId}`,
      ),
    );
  const users = h('ul', { class: 'users', 'aria-label': 'Demo users' });
  section.append(
    h('label', { for: 'class-select' }, 'Class'),
    select,
    h('h2', {}, 'Sign in as'),
    users,
  );
  const listUsers = async () => {
    clear(users);
    say('Loading users…');
    try {
      for (const u of await localSignIn.users(select.value)) {
        const button = h(
          'button',
          { type: 'button', class: 'user' },
          u.name,
          u.owner ? ' (instructor)' : '',
        );
        button.addEventListener('click', async () => {
          try {
            localToken.set(await localSignIn.signIn(u.id));
            const url = new URL(location.href);
            url.searchParams.set('channelId', select.value);
            history.replaceState(null, '', url);
            host.channelId = select.value;
            await renderClass(host, select.value);
          } catch (err) {
            say((err as Error).message, 'error');
          }
        });
        users.append(h('li', {}, button));
      }
      say('');
    } catch (err) {
      say((err as Error).message, 'error');
    }
  };
  select.addEventListener('change', listUsers);
  await listUsers();
}

async function renderClass(host: Host, channelId: string): Promise<void> {
  const api = new TabApi(() => host.token());
  clear(main);
  say('Loading recordings…');
  main.setAttribute('aria-busy', 'true');
  let ctx: ClassContext;
  try {
    ctx = await api.context(channelId);
  } catch (err) {
    main.removeAttribute('aria-busy');
    return failed(host, err);
  }
  const fmt = new Intl.DateTimeFormat(host.locale, { dateStyle: 'medium', timeStyle: 'short' });
  const staff = ctx.role !== 'learner';

  const header = h(
    'header',
    { class: 'class-header' },
    h('h1', {}, `${ctx.class.teamName ?? 'Class'} › ${ctx.class.channelName ?? ''}`),
    h(
      'p',
      { class: 'who' },
      `Signed in as ${ctx.user.name ?? ctx.user.id}`,
      h('span', { class: `badge ${ctx.role}` }, ctx.role),
    ),
  );
  if (!host.inTeams) {
    const out = h('button', { type: 'button', class: 'link' }, 'Switch user');
    out.addEventListener('click', () => {
      localToken.clear();
      void renderLocalSignIn(host);
    });
    header.append(out);
  }

  // Search and filters.
  const q = h('input', {
    id: 'q',
    type: 'search',
    name: 'q',
    maxlength: 100,
    placeholder: 'Title or words said in class',
  });
  const from = h('input', { id: 'from', type: 'date', name: 'from' });
  const to = h('input', { id: 'to', type: 'date', name: 'to' });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Search recordings' },
    h('div', { class: 'field grow' }, h('label', { for: 'q' }, 'Search titles and transcripts'), q),
    h('div', { class: 'field' }, h('label', { for: 'from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'to' }, 'To'), to),
    h('button', { type: 'submit' }, 'Search'),
    h('button', { type: 'reset', class: 'secondary' }, 'Clear'),
  );

  const list = h('ul', { class: 'recordings', 'aria-label': 'Recordings, newest first' });
  const more = h(
    'button',
    { type: 'button', class: 'secondary', hidden: true },
    'Show older recordings',
  );
  const viewer = h('section', { class: 'viewer', hidden: true, 'aria-label': 'Player' });

  main.append(header, form, viewer, h('h2', {}, 'Recordings'), list, more);
  if (staff && ctx.meetings?.length) main.append(meetingsTable(ctx.meetings, fmt));

  let cursor: string | undefined;
  const query = () => ({
    channelId,
    q: q.value.trim() || undefined,
    // Dates as the user's own days: from the start of `from` to the end of `to`.
    from: from.value ? new Date(`${from.value}T00:00:00`).toISOString() : undefined,
    to: to.value
      ? new Date(new Date(`${to.value}T00:00:00`).getTime() + 86_400_000).toISOString()
      : undefined,
  });
  const load = async (append: boolean) => {
    list.setAttribute('aria-busy', 'true');
    say(append ? 'Loading older recordings…' : 'Loading recordings…');
    try {
      const page = await api.recordings({ ...query(), cursor: append ? cursor : undefined });
      if (!append) clear(list);
      for (const r of page.items) list.append(row(r));
      cursor = page.next;
      more.hidden = !cursor;
      if (!list.children.length) {
        const filtered = !!(q.value || from.value || to.value);
        list.append(
          h(
            'li',
            { class: 'empty' },
            filtered ? 'No recording matches your search.' : emptyText(ctx, fmt),
          ),
        );
      }
      say(`${list.querySelectorAll('li.recording').length} recordings shown.`);
    } catch (err) {
      failed(host, err);
    } finally {
      list.removeAttribute('aria-busy');
    }
  };

  const row = (r: RecordingRow) => {
    const play = h('button', { type: 'button' }, 'Play');
    const download = h('button', { type: 'button', class: 'secondary' }, 'Download');
    const transcript = r.hasTranscript
      ? h('button', { type: 'button', class: 'secondary' }, 'Transcript')
      : undefined;
    const label = `${r.title}, ${fmt.format(new Date(r.recordedAt))}`;
    play.setAttribute('aria-label', `Play ${label}`);
    download.setAttribute('aria-label', `Download ${label}`);
    transcript?.setAttribute('aria-label', `Transcript of ${label}`);
    play.addEventListener('click', () => void openViewer(r, false));
    transcript?.addEventListener('click', () => void openViewer(r, true));
    download.addEventListener('click', async () => {
      try {
        const links = await api.links(r.id);
        const a = h('a', { href: links.downloadUrl, download: '' });
        document.body.append(a);
        a.click();
        a.remove();
        say(`Downloading ${r.title}.`);
      } catch (err) {
        failed(host, err);
      }
    });
    return h(
      'li',
      { class: 'recording', 'data-id': r.id },
      h(
        'div',
        { class: 'meta' },
        h('h3', {}, r.title),
        h('p', {}, `${fmt.format(new Date(r.recordedAt))} · ${duration(r.durationSeconds)}`),
        r.stats &&
          h(
            'p',
            { class: 'stats' },
            `${r.stats.views} views · ${r.stats.downloads} downloads · card ${r.stats.card}`,
          ),
      ),
      h('div', { class: 'actions' }, play, download, transcript),
    );
  };

  let open: { id: string; video: HTMLVideoElement; transcript: boolean } | undefined;
  const openViewer = async (r: RecordingRow, withTranscript: boolean) => {
    // The transcript of the recording already playing joins its player (one view, not two).
    if (open?.id === r.id && !viewer.hidden) {
      if (withTranscript && !open.transcript) {
        open.transcript = true;
        await showTranscript(r, open.video);
      }
      return;
    }
    clear(viewer);
    viewer.hidden = false;
    const video = h('video', {
      controls: true,
      preload: 'metadata',
      'aria-label': `Recording: ${r.title}`,
    });
    const close = h('button', { type: 'button', class: 'secondary' }, 'Close player');
    close.addEventListener('click', () => {
      video.pause();
      video.removeAttribute('src');
      viewer.hidden = true;
      clear(viewer);
      open = undefined;
    });
    viewer.append(h('div', { class: 'viewer-head' }, h('h2', {}, r.title), close), video);
    try {
      const links = await api.links(r.id);
      video.src = links.playUrl;
    } catch (err) {
      return failed(host, err);
    }
    open = { id: r.id, video, transcript: withTranscript };
    if (withTranscript) await showTranscript(r, video);
    else video.focus();
  };

  const showTranscript = async (r: RecordingRow, video: HTMLVideoElement) => {
    const box = h(
      'section',
      { class: 'transcript', 'aria-label': `Transcript of ${r.title}` },
      h('h3', {}, 'Transcript'),
    );
    viewer.append(box);
    say('Loading the transcript…');
    let cues: Cue[];
    try {
      cues = (await api.transcript(r.id)).cues;
    } catch (err) {
      return failed(host, err);
    }
    const lines = h('ol', { class: 'cues' });
    const buttons: [HTMLButtonElement, Cue][] = [];
    for (const c of cues) {
      const b = h(
        'button',
        { type: 'button', class: 'cue', 'data-start': c.start },
        h('span', { class: 'time' }, clock(c.start)),
        ' ',
        c.speaker ? h('span', { class: 'speaker' }, `${c.speaker}: `) : undefined,
        h('span', { class: 'text' }, c.text),
      );
      b.setAttribute(
        'aria-label',
        `${clock(c.start)}, ${c.speaker ?? 'unknown speaker'}: ${c.text}. Play from here.`,
      );
      b.addEventListener('click', () => {
        video.currentTime = c.start;
        void video.play().catch(() => undefined); // autoplay may be refused; the seek stands
      });
      buttons.push([b, c]);
      lines.append(h('li', {}, b));
    }
    // The line being spoken is highlighted as the video plays.
    video.addEventListener('timeupdate', () => {
      for (const [b, c] of buttons)
        b.classList.toggle('current', video.currentTime >= c.start && video.currentTime < c.end);
    });
    box.append(lines);
    say(`Transcript: ${cues.length} lines. Choose a line to play from there.`);
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load(false);
  });
  form.addEventListener('reset', () => setTimeout(() => void load(false)));
  more.addEventListener('click', () => void load(true));
  main.removeAttribute('aria-busy');
  await load(false);
}

function emptyText(ctx: ClassContext, fmt: Intl.DateTimeFormat): string {
  return ctx.nextMeeting
    ? `No recordings yet. The next class is “${ctx.nextMeeting.title}” on ${fmt.format(new Date(ctx.nextMeeting.start))}.`
    : 'No recordings yet. They appear here after each class.';
}

function meetingsTable(meetings: NonNullable<ClassContext['meetings']>, fmt: Intl.DateTimeFormat) {
  const body = h('tbody');
  for (const m of meetings)
    body.append(
      h(
        'tr',
        {},
        h('td', {}, m.title),
        h('td', {}, fmt.format(new Date(m.start))),
        h(
          'td',
          { class: `rs ${m.recordingStatus}` },
          STATUS_TEXT[m.recordingStatus] ?? m.recordingStatus,
          m.failureReason ? ` (${m.failureReason})` : '',
        ),
      ),
    );
  return h(
    'section',
    { class: 'staff', 'aria-labelledby': 'staff-title' },
    h('h2', { id: 'staff-title' }, 'Class meetings (instructors)'),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Meeting'),
          h('th', { scope: 'col' }, 'Starts'),
          h('th', { scope: 'col' }, 'Recording'),
        ),
      ),
      body,
    ),
  );
}

function failed(host: Host, err: unknown): void {
  if (err instanceof ApiError && err.status === 401 && !host.inTeams) {
    localToken.clear();
    say('Your local sign-in has expired. Sign in again.', 'error');
    void renderLocalSignIn(host);
    return;
  }
  say(err instanceof Error ? err.message : String(err), 'error');
}

void start();
