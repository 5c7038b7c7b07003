import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type TurnContext,
} from 'botbuilder';
import type { BotConfig } from '../src/config/index.js';
import type { Logger } from '../src/logging/index.js';

/**
 * The Bot Framework adapter. With credentials, every inbound request must carry a valid Bot
 * Framework JWT (CloudAdapter answers 401 otherwise). Without them (local mode, the Playground)
 * requests are accepted unauthenticated, as the Playground requires.
 */
export function createAdapter(bot: BotConfig | undefined, logger: Logger): CloudAdapter {
  const auth = new ConfigurationBotFrameworkAuthentication(
    bot
      ? {
          MicrosoftAppId: bot.appId,
          MicrosoftAppPassword: bot.password,
          MicrosoftAppType: bot.tenantId ? 'SingleTenant' : 'MultiTenant',
          MicrosoftAppTenantId: bot.tenantId,
        }
      : {},
  );
  const adapter = new CloudAdapter(auth);
  const log = logger.child({ component: 'bot' });
  adapter.onTurnError = async (context: TurnContext, error: Error) => {
    log.error(
      {
        err: error,
        activityId: context.activity.id,
        conversationId: context.activity.conversation?.id,
      },
      'bot turn failed',
    );
    try {
      await context.sendActivity(
        'Sorry, something went wrong on our side while handling that. Please try again in a minute; if it keeps failing, tell your IT admin.',
      );
    } catch (sendError) {
      // The conversation itself may be the problem; the log above keeps the original error.
      log.warn({ err: sendError }, 'could not tell the user about the failure');
    }
  };
  return adapter;
}
