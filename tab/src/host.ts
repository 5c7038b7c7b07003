import { app, authentication } from '@microsoft/teams-js';

export type Theme = 'default' | 'dark' | 'contrast';

/** Where the tab runs and how it gets the user's SSO token. */
export interface Host {
  /** False in a plain browser (local mode): the token comes from the local sign-in. */
  inTeams: boolean;
  /** The class channel this tab is bound to. */
  channelId: string | undefined;
  theme: Theme;
  locale: string | undefined;
  token(): Promise<string>;
  onThemeChange(handler: (theme: Theme) => void): void;
}

const LOCAL_TOKEN = 'classroom-recorder.local-token';

export function theme(name: string | undefined): Theme {
  return name === 'dark' || name === 'contrast' ? name : 'default';
}

export function applyTheme(t: Theme): void {
  document.documentElement.dataset.theme = t;
}

/** The token the local sign-in stored for this browser tab (local mode only). */
export const localToken = {
  get: () => sessionStorage.getItem(LOCAL_TOKEN) ?? undefined,
  set: (token: string) => sessionStorage.setItem(LOCAL_TOKEN, token),
  clear: () => sessionStorage.removeItem(LOCAL_TOKEN),
};

/**
 * Connects to Teams with teams-js v2 (`app.initialize`, `app.getContext`, and
 * `authentication.getAuthToken` for each API call), or, outside any frame, runs in local mode
 * with the `?channelId=` of the URL and the token of the local sign-in. Everything after this
 * is one code path.
 */
export async function connectHost(): Promise<Host> {
  const params = new URLSearchParams(location.search);
  const bound = params.get('channelId') ?? undefined;
  if (window.self === window.top) {
    const t = theme(params.get('theme') ?? undefined);
    return {
      inTeams: false,
      channelId: bound,
      theme: t,
      locale: navigator.language,
      async token() {
        const token = localToken.get();
        if (!token) throw new Error('Sign in first.');
        return token;
      },
      onThemeChange() {},
    };
  }
  await app.initialize();
  const context = await app.getContext();
  app.notifySuccess();
  return {
    inTeams: true,
    channelId: bound ?? context.channel?.id,
    theme: theme(context.app.theme),
    locale: context.app.locale,
    token: () => authentication.getAuthToken(),
    onThemeChange: (handler) => app.registerOnThemeChangeHandler((name) => handler(theme(name))),
  };
}
