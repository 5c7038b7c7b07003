import { app, pages } from '@microsoft/teams-js';
import { applyTheme, theme } from './host.js';

const out = document.getElementById('binding')!;

/**
 * The configurable tab's config page: binds the tab to the channel it is added to (the content
 * URL carries the channel id) and says which class that is.
 */
async function start(): Promise<void> {
  if (window.self === window.top) {
    out.textContent =
      'This page runs inside Teams when the tab is added to a channel. In local mode, open /tab/ instead.';
    return;
  }
  await app.initialize();
  const ctx = await app.getContext();
  applyTheme(theme(ctx.app.theme));
  app.registerOnThemeChangeHandler((t) => applyTheme(theme(t)));
  const channel = ctx.channel;
  if (!channel?.id) {
    out.textContent = 'Add this tab to a channel of the class team.';
    pages.config.setValidityState(false);
    return;
  }
  out.textContent = `This tab will list the recordings of ${ctx.team?.displayName ?? 'this team'} › ${channel.displayName ?? 'this channel'}.`;
  pages.config.registerOnSaveHandler((save) => {
    const contentUrl = `${location.origin}/tab/?${new URLSearchParams({ channelId: channel.id })}`;
    pages.config
      .setConfig({
        entityId: `recordings:${channel.id}`,
        contentUrl,
        websiteUrl: contentUrl,
        suggestedDisplayName: 'Recordings',
      })
      .then(
        () => save.notifySuccess(),
        (err: unknown) => save.notifyFailure(String(err)),
      );
  });
  pages.config.setValidityState(true);
  app.notifySuccess();
}

void start();
