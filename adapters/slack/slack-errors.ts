/**
 * Slack Web API failures -> DeliveryError, so the outbox retries what can succeed later (rate
 * limits with their Retry-After, 5xx, network) and gives up on what cannot (unknown channel,
 * message gone). The bot's own WebClient does not retry (see slack-adapter.ts): the outbox does.
 */
import { DeliveryError } from '../../src/chat/adapter.js';

/** Platform error codes where retrying cannot help. */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'message_not_found',
  'is_archived',
  'cant_update_message',
  'edit_window_closed',
  'msg_too_long',
  'invalid_blocks',
  'invalid_blocks_format',
  'no_text',
  'too_many_attachments',
  'restricted_action',
]);

/** Credentials problems: not permanent (the operator fixes the token and restarts; nothing lost). */
export const AUTH_ERRORS = new Set(['not_authed', 'invalid_auth', 'token_revoked', 'account_inactive']);

interface SlackLikeError {
  code?: unknown;
  retryAfter?: unknown;
  statusCode?: unknown;
  data?: { error?: unknown };
  message?: unknown;
}

/** The DeliveryError for a failed Web API call `what` (`chat.postMessage to C123`). */
export function toDeliveryError(err: unknown, what: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SlackLikeError;
  switch (e.code) {
    case 'slack_webapi_rate_limited_error': {
      const seconds = typeof e.retryAfter === 'number' && e.retryAfter >= 0 ? e.retryAfter : 1;
      return new DeliveryError(`Slack rate-limited ${what}; retry after ${seconds} s`, {
        platform: 'slack',
        platformCode: 'ratelimited',
        retryAfterMs: seconds * 1000,
        cause: err,
      });
    }
    case 'slack_webapi_http_error': {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      return new DeliveryError(`Slack answered HTTP ${status} to ${what}`, {
        platform: 'slack',
        platformCode: String(status),
        permanent: status >= 400 && status < 500 && status !== 408 && status !== 429,
        cause: err,
      });
    }
    case 'slack_webapi_platform_error': {
      const code = typeof e.data?.error === 'string' ? e.data.error : 'unknown_error';
      const hint = AUTH_ERRORS.has(code)
        ? ' (check SLACK_BOT_TOKEN and that the app is installed in the workspace)'
        : code === 'not_in_channel' || code === 'channel_not_found'
          ? ' (invite the app to the channel: /invite @autonomy, and check the channel id in the policy)'
          : '';
      return new DeliveryError(`Slack refused ${what}: ${code}${hint}`, {
        platform: 'slack',
        platformCode: code,
        permanent: PERMANENT.has(code),
        cause: err,
      });
    }
    default:
      return new DeliveryError(`could not reach Slack for ${what}: ${describe(err)}`, {
        platform: 'slack',
        platformCode: 'network',
        cause: err,
      });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
