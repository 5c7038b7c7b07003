import {
  ActivityTypes,
  type CloudAdapter,
  type ConversationReference,
  type TurnContext,
} from 'botbuilder';
import { DeliveryError } from '../src/errors/index.js';
import type { ConversationRecord } from '../src/store/index.js';
import type { ClassPoster, RecordingCardData } from '../src/sync/index.js';
import { recordingCard } from './cards/index.js';

/** The Bot Connector answers these when the bot can never post there again. */
const PERMANENT = new Set([403, 404]);

function deliveryError(err: unknown, what: string): DeliveryError {
  const status = (err as { statusCode?: number }).statusCode;
  const permanent = status !== undefined && PERMANENT.has(status);
  return new DeliveryError(
    permanent
      ? `Teams refused ${what} (HTTP ${status}): the bot is no longer in that conversation. Add the app to the team again.`
      : `Teams did not take ${what}${status ? ` (HTTP ${status})` : ''}; it will be retried.`,
    permanent,
    status,
    { cause: err },
  );
}

/**
 * Runs `logic` in a stored conversation (a proactive turn). The adapter hands errors inside a
 * turn to onTurnError, which would tell that conversation "something went wrong" and swallow
 * the error; here the error goes to the caller instead.
 */
export async function inConversation(
  adapter: CloudAdapter,
  botAppId: string,
  conversation: ConversationRecord,
  logic: (context: TurnContext) => Promise<void>,
): Promise<void> {
  let failure: unknown;
  await adapter.continueConversationAsync(
    botAppId,
    conversation.reference as Partial<ConversationReference>,
    async (context) => {
      try {
        await logic(context);
      } catch (err) {
        failure = err;
      }
    },
  );
  if (failure !== undefined) throw failure;
}

/**
 * Posts and updates recording cards through the bot's adapter (proactive messages to the
 * stored conversation reference). Connector 403/404 become permanent DeliveryErrors.
 */
export class ConnectorPoster implements ClassPoster {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly botAppId: string,
  ) {}

  private inConversation(
    conversation: ConversationRecord,
    logic: (context: TurnContext) => Promise<void>,
  ): Promise<void> {
    return inConversation(this.adapter, this.botAppId, conversation, logic);
  }

  async post(conversation: ConversationRecord, card: RecordingCardData): Promise<string> {
    let id: string | undefined;
    try {
      await this.inConversation(conversation, async (context) => {
        id = (await context.sendActivity({ attachments: [recordingCard(card)] }))?.id;
      });
    } catch (err) {
      throw deliveryError(err, 'the recording card');
    }
    if (!id) throw new DeliveryError('Teams returned no id for the recording card.', false);
    return id;
  }

  async update(
    conversation: ConversationRecord,
    activityId: string,
    card: RecordingCardData,
  ): Promise<void> {
    try {
      await this.inConversation(conversation, async (context) => {
        await context.updateActivity({
          id: activityId,
          type: ActivityTypes.Message,
          attachments: [recordingCard(card)],
        });
      });
    } catch (err) {
      throw deliveryError(err, 'the updated recording card');
    }
  }
}
